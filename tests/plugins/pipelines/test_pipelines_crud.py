"""Stored pipelines through /api/pipelines: create, read, list, update, upload, duplicate, delete."""

from __future__ import annotations

import pytest
from pipelines_helpers import json_of, sample, worker_processes

pytestmark = pytest.mark.asyncio


async def test_create_reads_what_the_module_declares(pipelines_app, create):
    app, client, admin = await pipelines_app()
    created = await create(client, admin, "word_filter")
    assert created["id"] == "word_filter"
    assert created["name"] == "Word Filter"
    assert created["type"] == "filter"
    assert created["is_active"] is False
    assert created["meta"]["pipelines"] == ["echo_pipe"]
    assert created["meta"]["priority"] == 0
    assert created["valves"]["banned"] == ["darn"]
    assert created["content"] == sample("word_filter")
    assert created["meta"]["manifest"]["title"] == "Word Filter Pipeline"
    assert created["meta"]["manifest"]["version"] == "0.1"
    manifold = await create(client, admin, "model_manifold")
    assert manifold["type"] == "manifold"
    assert manifold["meta"]["pipes"] == [{"id": "loud", "name": "Loud"}, {"id": "quiet", "name": "Quiet"}]
    # Loading a module to read it leaves no process behind.
    assert worker_processes() == []

    listed = await (await client.get("/api/pipelines", headers=admin)).get_json()
    assert sorted(item["id"] for item in listed) == ["model_manifold", "word_filter"]
    assert "content" not in listed[0]
    one = await (await client.get("/api/pipelines/model_manifold", headers=admin)).get_json()
    assert one["content"] == sample("model_manifold")


async def test_bad_modules_are_refused_with_the_line(pipelines_app):
    app, client, admin = await pipelines_app()
    cases = [
        ("def broken(:\n    pass\n", "SyntaxError on line 1"),
        ("x = 1\n", "The module defines no class Pipeline"),
        ("import not_a_module_anywhere\nclass Pipeline:\n    pass\n", "ModuleNotFoundError"),
        ("class Pipeline:\n    def __init__(self):\n        raise ValueError('nope')\n", "ValueError: nope"),
        ("class Pipeline:\n    def __init__(self):\n        self.type = 'tool'\n", "Pipeline.type must be"),
        ("", "content: the module source is required"),
    ]
    for number, (source, detail) in enumerate(cases):
        body = {"id": f"bad{number}", "content": source}
        response = await client.post("/api/pipelines", json=body, headers=admin)
        assert response.status_code == 400, source
        assert detail in (await response.get_json())["detail"]
    bad_valves = {"id": "echo", "content": sample("echo_pipe"), "valves": {"PREFIX": ["not", "text"]}}
    response = await client.post("/api/pipelines", json=bad_valves, headers=admin)
    assert response.status_code == 400
    assert "PREFIX" in (await response.get_json())["detail"]
    bodies = (
        {"id": "has.dot", "content": sample("echo_pipe")},
        {"id": "x", "content": 5},
        [1],
        {"id": "y", "content": sample("echo_pipe"), "colour": 1},
    )
    for body in bodies:
        response = await client.post("/api/pipelines", json=body, headers=admin)
        assert response.status_code == 400
    assert await (await client.get("/api/pipelines", headers=admin)).get_json() == []


async def test_ids_are_unique_and_duplicates_get_new_ones(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", valves={"PREFIX": "copied:"})
    body = {"id": "echo_pipe", "content": sample("echo_pipe")}
    again = await client.post("/api/pipelines", json=body, headers=admin)
    assert again.status_code == 400
    await client.post("/api/pipelines/echo_pipe/activate", headers=admin)
    copy = await client.post("/api/pipelines/echo_pipe/duplicate", headers=admin)
    assert copy.status_code == 201
    copied = await copy.get_json()
    assert copied["id"] == "echo_pipe_copy"
    assert copied["is_active"] is False
    assert copied["content"] == sample("echo_pipe")
    assert copied["valves"]["PREFIX"] == "copied:"
    named = await client.post("/api/pipelines/echo_pipe/duplicate", json={"id": "echo_two"}, headers=admin)
    assert (await named.get_json())["id"] == "echo_two"
    taken = await client.post("/api/pipelines/echo_pipe/duplicate", json={"id": "echo_two"}, headers=admin)
    assert taken.status_code == 400
    third = await client.post("/api/pipelines/echo_pipe/duplicate", headers=admin)
    assert (await third.get_json())["id"] == "echo_pipe_copy_2"
    missing = await client.post("/api/pipelines/nothing/duplicate", headers=admin)
    assert missing.status_code == 404


async def test_update_reloads_and_delete_stops(pipelines_app, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", is_active=True)
    service = app.extensions["colonnade"].state("pipelines").service
    [first_pid] = service.worker_pids()
    renamed = await client.patch("/api/pipelines/echo_pipe", json={"name": "Renamed"}, headers=admin)
    assert (await renamed.get_json())["name"] == "Renamed"
    source = sample("echo_pipe").replace('PREFIX: str = "echo:"', 'PREFIX: str = "v2:"')
    changed = await client.patch("/api/pipelines/echo_pipe", json={"content": source}, headers=admin)
    assert changed.status_code == 200
    assert (await changed.get_json())["valves"]["PREFIX"] == "v2:"
    # The new source runs in a new process.
    [second_pid] = service.worker_pids()
    assert second_pid != first_pid
    broken = await client.patch("/api/pipelines/echo_pipe", json={"content": "class P(:\n"}, headers=admin)
    assert broken.status_code == 400
    assert (await json_of(client, "/api/pipelines/echo_pipe", admin))["content"] == source
    deleted = await client.delete("/api/pipelines/echo_pipe", headers=admin)
    assert deleted.status_code == 200
    assert service.worker_pids() == []
    assert (await client.get("/api/pipelines/echo_pipe", headers=admin)).status_code == 404
    assert (await client.delete("/api/pipelines/echo_pipe", headers=admin)).status_code == 404


async def test_upload_a_py_file(pipelines_app):
    app, client, admin = await pipelines_app()
    from quart.datastructures import FileStorage
    import io

    files = {"file": FileStorage(io.BytesIO(sample("echo_pipe").encode()), filename="uploaded_echo.py")}
    form = {"is_active": "true"}
    response = await client.post("/api/pipelines/upload", files=files, form=form, headers=admin)
    assert response.status_code == 201, await response.get_json()
    uploaded = await response.get_json()
    assert uploaded["id"] == "uploaded_echo" and uploaded["is_active"] is True
    files = {"file": FileStorage(io.BytesIO(b"print(1)"), filename="notes.txt")}
    refused = await client.post("/api/pipelines/upload", files=files, headers=admin)
    assert refused.status_code == 400
    assert (await refused.get_json())["detail"] == "Only Python (.py) files are allowed."


async def test_only_admins(pipelines_app, auth_headers, create):
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe")
    user = await auth_headers(app, role="user")
    for method, path in (
        ("GET", "/api/pipelines"),
        ("GET", "/api/pipelines/echo_pipe"),
        ("POST", "/api/pipelines/echo_pipe/activate"),
        ("POST", "/api/pipelines/echo_pipe/execute"),
        ("GET", "/api/v1/pipelines/list"),
        ("GET", "/api/pipelines/echo_pipe/valves"),
    ):
        response = await client.open(path, method=method, headers=user, json={})
        assert response.status_code == 403, path
    assert (await client.get("/api/pipelines")).status_code == 401


async def test_requirements_that_are_not_installed_are_named(pipelines_app):
    app, client, admin = await pipelines_app()
    source = (
        '"""\ntitle: Needs things\n'
        "requirements: pydantic, surely-not-installed-dist>=1.0, another_missing_one\n"
        '"""\n'
        "import surely_not_installed_dist\n"
        "class Pipeline:\n    pass\n"
    )
    response = await client.post("/api/pipelines", json={"id": "needy", "content": source}, headers=admin)
    assert response.status_code == 400
    detail = (await response.get_json())["detail"]
    assert "requirements not installed: surely-not-installed-dist, another_missing_one" in detail
    assert "pydantic" not in detail.split("requirements not installed")[1]


async def test_bad_updates_change_nothing(pipelines_app, create):
    app, client, admin = await pipelines_app()
    before = await create(client, admin, "echo_pipe")
    for body in (
        {"name": ""},
        {"name": "x" * 256},
        {"is_active": "yes"},
        {"valves": [1]},
        {"content": 5},
        {"colour": "blue"},
        [1],
    ):
        response = await client.patch("/api/pipelines/echo_pipe", json=body, headers=admin)
        assert response.status_code == 400, body
        assert "detail" in await response.get_json()
    not_json = await client.patch("/api/pipelines/echo_pipe", data="{", headers=admin)
    assert not_json.status_code == 400
    after = await json_of(client, "/api/pipelines/echo_pipe", admin)
    assert after == before
    missing = await client.patch("/api/pipelines/nothing", json={"name": "x"}, headers=admin)
    assert missing.status_code == 404
