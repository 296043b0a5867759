"""Saving code that cannot load: a 400 naming the line, and nothing stored."""

from __future__ import annotations

import pytest
from functions_helpers import create, sample

pytestmark = pytest.mark.asyncio


async def save(env, source, function_id="broken"):
    body = {"id": function_id, "name": "Broken", "content": source}
    response = await env.client.post("/api/functions", json=body, headers=env.admin)
    return response.status_code, (await response.get_json())


async def assert_nothing_stored(env, function_id="broken"):
    assert (await env.client.get(f"/api/functions/{function_id}", headers=env.admin)).status_code == 404


async def test_a_syntax_error_names_its_line(functions_env):
    env = await functions_env()
    source = '"""\ntitle: Broken\n"""\n\nclass Filter:\n    def inlet(self, body)\n        return body\n'
    status, body = await save(env, source)
    assert status == 400
    assert body["detail"].startswith("Syntax error on line 6:")
    await assert_nothing_stored(env)


async def test_no_function_class_is_refused(functions_env):
    env = await functions_env()
    status, body = await save(env, "class Tools:\n    pass\n")
    assert status == 400
    assert body["detail"].startswith("No Function class found in the module")
    await assert_nothing_stored(env)


async def test_a_module_that_raises_while_loading_names_the_line(functions_env):
    env = await functions_env()
    source = "import json\n\nSETTINGS = json.loads('{not json')\n\nclass Pipe:\n    pass\n"
    status, body = await save(env, source)
    assert status == 400
    assert body["detail"].startswith("The function failed to load: JSONDecodeError on line 3:")
    await assert_nothing_stored(env)


async def test_a_constructor_that_raises_is_refused(functions_env):
    env = await functions_env()
    source = "class Action:\n    def __init__(self):\n        raise RuntimeError('no key')\n"
    status, body = await save(env, source)
    assert status == 400
    assert body["detail"] == "The function failed to load: RuntimeError on line 3: no key"


async def test_missing_requirements_are_listed_and_never_installed(functions_env):
    env = await functions_env()
    source = sample("echo_manifold").replace(
        "requirements: pydantic, httpx",
        "requirements: pydantic, colonnade-no-such-package>=1.0, another_missing_pkg",
    )
    status, body = await save(env, source)
    assert status == 400
    assert body["detail"].endswith("colonnade-no-such-package, another_missing_pkg")
    assert "never installed" in body["detail"]
    await assert_nothing_stored(env)


async def test_an_update_that_breaks_the_code_keeps_the_stored_one(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    response = await env.client.put(
        "/api/functions/echo",
        json={"name": "Echo", "content": "class Pipe:\n  def pipe(self, body):\n    return (\n"},
        headers=env.admin,
    )
    assert response.status_code == 400
    assert "line 3" in (await response.get_json())["detail"]
    stored = await (await env.client.get("/api/functions/echo", headers=env.admin)).get_json()
    assert stored["content"] == sample("echo_manifold")
    assert env.registry.live["echo"].version == stored["version"]


async def test_top_level_code_that_never_ends_times_out(functions_env):
    env = await functions_env(config={"timeout_seconds": 0.3})
    source = "import threading\nthreading.Event().wait(5)\n\nclass Pipe:\n    pass\n"
    status, body = await save(env, source)
    assert status == 400
    assert body["detail"] == "The function took longer than 0.3 s to load"
    assert (await env.client.get("/api/functions", headers=env.admin)).status_code == 200
