"""Open WebUI's admin routes /api/v1/pipelines/*: hosted pipelines (urlIdx -1 or left out) and a
remote Pipelines server (urlIdx 0, the fake server on loopback)."""

from __future__ import annotations

import io

import pytest
import pytest_asyncio
from pipelines_helpers import ask, json_of, reply_of, sample
from quart.datastructures import FileStorage

pytestmark = pytest.mark.asyncio

KEY = "pipelines-secret-key-0123"


@pytest_asyncio.fixture
async def remote(fake_upstream):
    server = await fake_upstream("pipelines")
    server.app.control.api_key = KEY
    return server


@pytest_asyncio.fixture
async def fake_source(fake_upstream):
    """A web server handing out ``echo_pipe.py`` (what ``/add`` fetches for hosted pipelines)."""
    from quart import Quart

    web = Quart("sources")

    @web.get("/pipelines/<name>")
    async def source(name: str):
        if name != "web_echo.py":
            return "missing", 404
        return sample("echo_pipe"), 200, {"Content-Type": "text/x-python"}

    return await fake_upstream(web)


def py_file(name: str, text: str) -> dict:
    return {"file": FileStorage(io.BytesIO(text.encode()), filename=name)}


async def test_list_names_the_hosted_pipelines_and_each_server(pipelines_app, remote):
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    listed = await (await client.get("/api/v1/pipelines/list", headers=admin)).get_json()
    assert listed == {"data": [{"url": "colonnade://hosted", "idx": -1}, {"url": remote.base_url, "idx": 0}]}


async def test_hosted_upload_add_list_valves_delete(pipelines_app, fake_source):
    app, client, admin = await pipelines_app()
    files = py_file("model_manifold.py", sample("model_manifold"))
    hosted = {"urlIdx": "-1"}
    uploaded = await client.post("/api/v1/pipelines/upload", files=files, form=hosted, headers=admin)
    assert uploaded.status_code == 200, await uploaded.get_json()
    assert (await uploaded.get_json())["status"] is True
    refused = await client.post("/api/v1/pipelines/upload", files=py_file("notes.md", "x"), headers=admin)
    assert refused.status_code == 400
    assert (await refused.get_json())["detail"] == "Only Python (.py) files are allowed."
    body = {"url": f"{fake_source.base_url}/pipelines/web_echo.py", "urlIdx": -1}
    added = await client.post("/api/v1/pipelines/add", json=body, headers=admin)
    assert added.status_code == 200, await added.get_json()
    not_found = await client.post(
        "/api/v1/pipelines/add", json={"url": f"{fake_source.base_url}/pipelines/nothing.py"}, headers=admin
    )
    assert not_found.status_code == 400

    listed = await (await client.get("/api/v1/pipelines/", headers=admin)).get_json()
    assert sorted((item["id"], item["type"], item["is_active"]) for item in listed["data"]) == [
        ("model_manifold", "manifold", True),
        ("web_echo", "pipe", True),
    ]
    # Added and uploaded pipelines run at once.
    models = [m["id"] for m in (await (await client.get("/api/models", headers=admin)).get_json())["data"]]
    assert sorted(models) == ["model_manifold.loud", "model_manifold.quiet", "web_echo"]

    valves = await (await client.get("/api/v1/pipelines/model_manifold/valves", headers=admin)).get_json()
    assert valves == {"GREETING": "Hello"}
    spec = await json_of(client, "/api/v1/pipelines/model_manifold/valves/spec?urlIdx=-1", admin)
    assert spec["properties"]["GREETING"]["default"] == "Hello"
    hi = {"GREETING": "Hi"}
    updated = await client.post("/api/v1/pipelines/model_manifold/valves/update", json=hi, headers=admin)
    assert (await updated.get_json()) == {"GREETING": "Hi"}
    assert await reply_of(await ask(client, admin, "model_manifold.quiet", "You")) == "hi, you"

    web_echo = {"id": "web_echo", "urlIdx": -1}
    deleted = await client.delete("/api/v1/pipelines/delete", json=web_echo, headers=admin)
    assert (await deleted.get_json())["status"] is True
    again = await client.delete("/api/v1/pipelines/delete", json={"id": "web_echo"}, headers=admin)
    assert again.status_code == 404
    assert (await client.get("/api/v1/pipelines/web_echo/valves", headers=admin)).status_code == 404


async def test_remote_routes_are_proxied_with_the_key(pipelines_app, remote):
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    assert "sent" not in [model["id"] for model in (await json_of(client, "/api/models", admin))["data"]]
    listed = await (await client.get("/api/v1/pipelines/?urlIdx=0", headers=admin)).get_json()
    ids = sorted(item["id"] for item in listed["data"])
    assert ids == ["remote_echo", "remote_filter", "remote_manifold"]
    assert all(sent.headers.get("Authorization") == f"Bearer {KEY}" for sent in remote.requests)

    body = {"url": "https://example.test/p/added.py", "urlIdx": 0}
    added = await client.post("/api/v1/pipelines/add", json=body, headers=admin)
    assert (await added.get_json())["status"] is True
    assert remote.requests[-1].json() == {"url": "https://example.test/p/added.py"}
    files = py_file("sent.py", sample("echo_pipe"))
    uploaded = await client.post("/api/v1/pipelines/upload", files=files, form={"urlIdx": "0"}, headers=admin)
    assert uploaded.status_code == 200
    assert remote.app.control.added == ["added", "sent"]
    assert b"class Pipeline" in remote.requests[-1].body
    # The model list shows them at once (the cached lists were dropped).
    models = [model["id"] for model in (await json_of(client, "/api/models", admin))["data"]]
    assert "sent" in models and "added" in models

    valves = await json_of(client, "/api/v1/pipelines/remote_filter/valves?urlIdx=0", admin)
    assert valves == {"pipelines": ["remote_echo"], "priority": 0}
    spec = await json_of(client, "/api/v1/pipelines/remote_filter/valves/spec?urlIdx=0", admin)
    assert spec["properties"]["priority"]["type"] == "integer"
    updated = await client.post(
        "/api/v1/pipelines/remote_filter/valves/update?urlIdx=0", json={"pipelines": ["*"]}, headers=admin
    )
    assert (await updated.get_json())["pipelines"] == ["*"]
    # The new targets apply at once: the filter now runs around the manifold too.
    answer = await ask(client, admin, "remote_manifold.a", "x")
    assert await reply_of(answer) == "a: x [remote inlet] [remote outlet]"

    # The server's own errors keep their status and detail.
    path = "/api/v1/pipelines/remote_filter/valves/update?urlIdx=0"
    bad = await client.post(path, json={"colour": 1}, headers=admin)
    assert bad.status_code == 400 and (await bad.get_json())["detail"] == "Invalid valves"
    added = {"id": "added", "urlIdx": 0}
    deleted = await client.delete("/api/v1/pipelines/delete", json=added, headers=admin)
    assert (await deleted.get_json())["status"] is True
    missing = await client.delete("/api/v1/pipelines/delete", json=added, headers=admin)
    assert missing.status_code == 404 and (await missing.get_json())["detail"] == "Pipeline not found"


async def test_bad_requests(pipelines_app, remote):
    app, client, admin = await pipelines_app(servers=[{"url": remote.base_url, "key": KEY}])
    cases = [
        ("GET", "/api/v1/pipelines/?urlIdx=seven", None, 400),
        ("GET", "/api/v1/pipelines/?urlIdx=4", None, 404),
        ("POST", "/api/v1/pipelines/add", {"url": "ftp://x/y.py"}, 400),
        ("POST", "/api/v1/pipelines/add", {"url": "http://127.0.0.1:9/readme.md"}, 400),
        ("DELETE", "/api/v1/pipelines/delete", {"urlIdx": 0}, 400),
        ("POST", "/api/v1/pipelines/x/valves/update?urlIdx=-1", [1], 400),
    ]
    for method, path, body, status in cases:
        response = await client.open(path, method=method, json=body, headers=admin)
        assert response.status_code == status, path
        assert "detail" in await response.get_json()
