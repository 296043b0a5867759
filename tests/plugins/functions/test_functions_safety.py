"""Misbehaving functions are contained: errors are JSON with a status, never a 500; a function past its
timeout is abandoned with a 504; the host keeps answering other requests meanwhile."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from functions_helpers import HELLO, create, sample

from colonnade import hookimpl

pytestmark = pytest.mark.asyncio


def line_of(text: str) -> int:
    """The line of the misbehaving sample that holds ``text``."""
    lines = sample("misbehaving_pipe").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


@pytest.fixture
def release():
    """Lets blocked or spinning sample calls end after each test (their threads cannot be killed)."""
    modules = []
    yield modules
    for module in modules:
        module.RELEASE.set()


async def misbehaving(functions_env, release, timeout=1, plugins=()):
    # The timeout bounds loading too: below a second, a loaded CI machine has failed to load a function.
    env = await functions_env(config={"timeout_seconds": timeout}, plugins=list(plugins))
    await create(env.client, env.admin, "bad", sample("misbehaving_pipe"))
    release.append(env.registry.live["bad"].loaded.module)
    return env


async def ask(env, model, stream=False):
    body = {"model": model, "messages": HELLO, "stream": stream}
    response = await env.client.post("/api/chat/completions", json=body, headers=env.user)
    return response.status_code, await response.get_data()


async def health(env):
    response = await env.client.get("/api/functions", headers=env.user)
    assert response.status_code == 200


class Observer:
    """Records the events the host emits."""

    __name__ = "event_observer"

    def __init__(self):
        self.events = []

    @hookimpl
    def on_event(self, host, event):
        self.events.append(event)


async def test_a_pipe_that_raises_is_a_502_naming_the_line_and_reported(functions_env, release):
    observer = Observer()
    env = await misbehaving(functions_env, release, plugins=[observer])
    response = await env.client.post(
        "/api/chat/completions", json={"model": "bad.raises", "messages": HELLO}, headers=env.user
    )
    assert response.status_code == 502
    assert (await response.get_json()) == {
        "detail": f"functions: Function bad failed: ValueError on line {line_of('raise ValueError')}: "
        "the pipe is broken"
    }
    failed = [event for event in observer.events if event.name == "functions.failed"]
    assert [(event.function_id, event.method, event.timed_out) for event in failed] == [
        ("bad", "pipe", False)
    ]
    assert failed[0].error == f"ValueError on line {line_of('raise ValueError')}: the pipe is broken"
    await health(env)


@pytest.mark.parametrize("mode", ["blocks", "spins", "awaits"])
async def test_a_pipe_past_its_timeout_is_a_504_and_the_host_keeps_answering(functions_env, release, mode):
    observer = Observer()
    env = await misbehaving(functions_env, release, plugins=[observer])
    pending = asyncio.ensure_future(ask(env, f"bad.{mode}"))
    # While the function hangs, the host answers other requests.
    await health(env)
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    status, _ = await ask(env, "echo.shout")
    assert status == 200
    status, body = await pending
    assert status == 504
    assert b"Function bad timed out after 1 s" in body
    failed = [event for event in observer.events if event.name == "functions.failed"]
    assert [(event.method, event.error, event.timed_out) for event in failed] == [
        ("pipe", "timed out after 1 s", True)
    ]


async def test_an_awaiting_loop_is_cancelled_so_its_thread_ends(functions_env, release):
    import threading

    env = await misbehaving(functions_env, release)
    status, _ = await ask(env, "bad.awaits")
    assert status == 504
    names = [thread for thread in threading.enumerate() if thread.name == "colonnade-function-bad.pipe"]
    for thread in names:
        await asyncio.to_thread(thread.join, 5)
        assert not thread.is_alive()


async def test_a_stream_that_breaks_midway_ends_with_an_error_event(functions_env, release, serve):
    env = await misbehaving(functions_env, release)
    base = await serve(env.app)
    token = env.user["Authorization"].removeprefix("Bearer ")
    client = openai.AsyncOpenAI(base_url=f"{base}/api", api_key=token, max_retries=0)
    stream = await client.chat.completions.create(model="bad.breaks_stream", messages=HELLO, stream=True)
    seen = []
    line = line_of("raise RuntimeError")
    with pytest.raises(openai.APIError, match=f"RuntimeError on line {line}: the stream broke"):
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert "first " in seen
    await health(env)


async def test_an_inlet_past_its_timeout_rejects_the_request(functions_env, release):
    env = await functions_env(config={"timeout_seconds": 1})
    source = (
        "import threading\n\nRELEASE = threading.Event()\n\n"
        "class Filter:\n    def inlet(self, body):\n        RELEASE.wait(30)\n"
    )
    await create(env.client, env.admin, "slow", source, is_global=True)
    release.append(env.registry.live["slow"].loaded.module)
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    status, body = await ask(env, "echo.shout")
    assert status == 400
    assert b"timed out after 1 s" in body


async def test_a_failing_outlet_or_stream_is_skipped(functions_env):
    env = await functions_env()
    source = (
        "class Filter:\n"
        "    def stream(self, event):\n        raise KeyError('stream')\n"
        "    def outlet(self, body):\n        raise KeyError('outlet')\n"
    )
    await create(env.client, env.admin, "flaky", source, is_global=True)
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    status, body = await ask(env, "echo.shout")
    assert status == 200 and b"HELLO DARN WORLD" in body
    status, body = await ask(env, "echo.shout", stream=True)
    assert status == 200 and b'"content":" DARN"' in body and body.endswith(b"data: [DONE]\n\n")


async def test_a_manifold_whose_pipes_raise_lists_nothing_and_others_still_list(functions_env):
    env = await functions_env()
    source = "class Pipe:\n    def pipes(self):\n        raise OSError('down')\n"
    await create(env.client, env.admin, "down", source)
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    assert sorted(model["id"] for model in listed["data"]) == ["echo.shout", "echo.whisper"]


async def test_a_function_whose_stored_code_no_longer_loads_is_skipped_not_fatal(functions_env):
    """A row changed behind the API (another version, a restore) that fails to load is logged and left out."""
    from colonnade.plugins.functions.models import Function

    env = await functions_env()
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    row = await Function.get(id="echo")
    row.content = "class Pipe:\n    def __init__(self):\n        raise RuntimeError('gone')\n"
    row.version += 1
    await row.save()
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    assert listed["data"] == []
    assert env.registry.failed == {"echo": row.version}


async def test_a_client_leaving_an_endless_stream_closes_the_generator(functions_env, release, serve):
    env = await misbehaving(functions_env, release, timeout=30)
    module = env.registry.live["bad"].loaded.module
    base = await serve(env.app)
    async with httpx.AsyncClient(base_url=base, headers=env.user) as client:
        body = {"model": "bad.endless", "messages": HELLO, "stream": True}
        async with client.stream("POST", "/api/chat/completions", json=body) as response:
            lines = []
            async for line in response.aiter_lines():
                if line:
                    lines.append(line)
                if len(lines) == 5:
                    break
    assert lines[1].startswith("data: ") and '"content":"1 "' in lines[1]
    assert await asyncio.to_thread(module.CLOSED.wait, 10)
    await health(env)


async def test_a_manifold_whose_pipes_hang_is_left_out_but_others_list(functions_env, release):
    # The list gives each provider 10 s by default; short for the test.
    env = await functions_env(completions={"list_timeout": 0.5})
    source = (
        "import threading\nRELEASE = threading.Event()\n\n"
        "class Pipe:\n    def pipes(self):\n        RELEASE.wait()\n        return []\n"
    )
    await create(env.client, env.admin, "slow", source)
    release.append(env.registry.live["slow"].loaded.module)
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    assert sorted(model["id"] for model in listed["data"]) == ["echo.shout", "echo.whisper"]
