"""Open WebUI's bulk routes: ``load/url`` fetches a module to paste, ``sync`` replaces the whole set."""

from __future__ import annotations

import pytest
from functions_helpers import create, sample
from quart import Quart, Response

from colonnade.plugins.functions.transfer import name_of, raw_url

pytestmark = pytest.mark.asyncio


def module_server() -> Quart:
    """A fake file host: serves the sample modules under ``/raw/<name>.py``."""
    app = Quart("module_server")

    @app.get("/raw/<name>.py")
    async def module(name: str):
        return Response(sample(name), content_type="text/plain")

    @app.get("/huge.py")
    async def huge():
        return Response(b"#" * (2 << 20), content_type="text/plain")

    return app


async def test_load_url_fetches_a_module_without_storing_it(functions_env, fake_upstream):
    env = await functions_env()
    server = await fake_upstream(module_server())
    response = await env.client.post(
        "/api/v1/functions/load/url",
        json={"url": f"{server.base_url}/raw/polite_filter.py"},
        headers=env.admin,
    )
    assert response.status_code == 200
    assert await response.get_json() == {"name": "polite_filter", "content": sample("polite_filter")}
    assert await (await env.client.get("/api/functions", headers=env.admin)).get_json() == []


async def test_load_url_failures_are_json_errors(functions_env, fake_upstream):
    env = await functions_env()
    server = await fake_upstream(module_server())
    cases = [
        ("ftp://example.test/a.py", 400, "url: an http(s) URL is required"),
        (f"{server.base_url}/raw/missing_sample_name", 502, "answered 404"),
        (f"{server.base_url}/huge.py", 400, "The module is larger than 1 MiB"),
    ]
    for url, status, detail in cases:
        response = await env.client.post("/api/functions/load/url", json={"url": url}, headers=env.admin)
        assert response.status_code == status, url
        assert detail in (await response.get_json())["detail"]
    response = await env.client.post(
        "/api/functions/load/url", json={"url": "http://x/a.py"}, headers=env.user
    )
    assert response.status_code == 403


async def test_github_pages_are_read_raw_and_names_come_from_the_file():
    page = "https://github.com/someone/functions/blob/main/filters/polite.py"
    assert raw_url(page) == "https://raw.githubusercontent.com/someone/functions/main/filters/polite.py"
    assert raw_url("https://example.test/a.py") == "https://example.test/a.py"
    assert name_of("https://example.test/x/echo_pipe.py?token=1") == "echo_pipe"


async def test_sync_replaces_the_whole_set(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "old", sample("word_count_action"))
    await create(env.client, env.admin, "echo", sample("echo_manifold"))
    body = {
        "functions": [
            {
                "id": "echo",
                "name": "Echo again",
                "content": sample("echo_manifold"),
                "is_active": True,
                "valves": {"SUFFIX": "?"},
            },
            {
                "id": "polite",
                "name": "Polite",
                "content": sample("polite_filter"),
                "is_active": True,
                "is_global": True,
                "meta": {"description": "synced"},
            },
        ]
    }
    response = await env.client.post("/api/v1/functions/sync", json=body, headers=env.admin)
    assert response.status_code == 200, await response.get_data()
    synced = {item["id"]: item for item in await response.get_json()}
    assert set(synced) == {"echo", "polite"}
    assert synced["echo"]["name"] == "Echo again" and synced["echo"]["valves"] == {"SUFFIX": "?"}
    assert synced["polite"]["is_global"] is True and synced["polite"]["type"] == "filter"
    assert sorted(env.registry.live) == ["echo", "polite"]
    listed = await (await env.client.get("/api/models", headers=env.user)).get_json()
    assert [entry["id"] for entry in listed["data"]] == ["echo.shout", "echo.whisper"]


async def test_sync_with_one_broken_module_changes_nothing(functions_env):
    env = await functions_env()
    await create(env.client, env.admin, "old", sample("word_count_action"))
    body = {
        "functions": [
            {"id": "echo", "name": "Echo", "content": sample("echo_manifold")},
            {"id": "broken", "name": "Broken", "content": "class Pipe:\n    def pipe(self, body)\n"},
        ]
    }
    response = await env.client.post("/api/v1/functions/sync", json=body, headers=env.admin)
    assert response.status_code == 400
    assert (await response.get_json())["detail"] == "broken: Syntax error on line 2: expected ':'"
    listed = await (await env.client.get("/api/functions", headers=env.admin)).get_json()
    assert [item["id"] for item in listed] == ["old"]
    body = {
        "functions": [
            {"id": "echo", "name": "Echo", "content": sample("echo_manifold"), "valves": {"SUFFIX": 3}}
        ]
    }
    response = await env.client.post("/api/v1/functions/sync", json=body, headers=env.admin)
    assert response.status_code == 400
    assert (await response.get_json())["detail"].startswith("echo: Invalid valves: SUFFIX:")
