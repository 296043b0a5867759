"""Changes made by another process of the host are picked up; model access when the ``models`` plugin
guards base models."""

from __future__ import annotations

import pytest
from pipelines_helpers import chat, sample

pytestmark = pytest.mark.asyncio


async def test_a_change_made_by_another_host_process_is_picked_up(pipelines_app):
    """Another process of the same host writes the row and bumps its version, nothing else; this
    process must notice on its next request (``sync_interval`` 0: at once)."""
    from colonnade.plugins.pipelines.models import Pipeline

    app, client, admin = await pipelines_app(sync_interval=0, config={"completions": {"models_cache_ttl": 0}})
    body = {"id": "echo_pipe", "content": sample("echo_pipe")}
    assert (await client.post("/api/pipelines", json=body, headers=admin)).status_code == 201
    service = app.extensions["colonnade"].state("pipelines").service
    row = await Pipeline.get(id="echo_pipe")

    async def elsewhere(**changes) -> None:
        await Pipeline.filter(id="echo_pipe").update(version=row.version + 1, **changes)
        row.version += 1

    await elsewhere(is_active=True)
    listed = await (await client.get("/api/models", headers=admin)).get_json()
    assert [model["id"] for model in listed["data"]] == ["echo_pipe"]
    answer = await client.post("/api/chat/completions", json=chat("echo_pipe", "there"), headers=admin)
    assert (await answer.get_json())["choices"][0]["message"]["content"] == "echo: there"
    [pid] = service.worker_pids()
    effective = {"PREFIX": "v2:", "LIFECYCLE_LOG": ""}
    await elsewhere(valves={"PREFIX": "v2:"}, info={**row.info, "valves": effective})
    answer = await client.post("/api/chat/completions", json=chat("echo_pipe", "there"), headers=admin)
    assert (await answer.get_json())["choices"][0]["message"]["content"] == "v2: there"
    assert service.worker_pids() != [pid]
    await elsewhere(is_active=False)
    gone = await client.post("/api/chat/completions", json=chat("echo_pipe", "there"), headers=admin)
    assert gone.status_code == 404
    assert service.worker_pids() == []


async def test_users_need_access_when_the_models_plugin_guards_base_models(make_app, auth_headers):
    app = await make_app(load_plugins=["completions", "models", "pipelines"])
    admin = await auth_headers(app, role="admin")
    user = await auth_headers(app, role="user")
    client = app.test_client()
    body = {"id": "echo_pipe", "content": sample("echo_pipe"), "is_active": True}
    assert (await client.post("/api/pipelines", json=body, headers=admin)).status_code == 201
    answer = await client.post("/api/chat/completions", json=chat("echo_pipe", "hi"), headers=admin)
    assert (await answer.get_json())["choices"][0]["message"]["content"] == "echo: hi"
    # A base model without a workspace model shared with the user is not theirs to use.
    refused = await client.post("/api/chat/completions", json=chat("echo_pipe", "hi"), headers=user)
    assert refused.status_code == 404
    listed = await (await client.get("/api/models", headers=user)).get_json()
    assert listed["data"] == []
