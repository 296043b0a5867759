"""on_startup / on_valves_updated / on_shutdown run in the worker: on activation, valve changes,
deactivation, and when the host starts and stops."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from pipelines_helpers import alive, sample

pytestmark = pytest.mark.asyncio


def lines(path) -> list[str]:
    return [line.split(" ")[0] for line in path.read_text().splitlines()] if path.exists() else []


async def test_activation_valves_and_deactivation(pipelines_app, create, tmp_path):
    log = tmp_path / "lifecycle.log"
    app, client, admin = await pipelines_app()
    await create(client, admin, "echo_pipe", valves={"LIFECYCLE_LOG": str(log)})
    # Storing a module loads it, but does not start it.
    assert lines(log) == []
    await client.post("/api/pipelines/echo_pipe/activate", headers=admin)
    assert lines(log) == ["startup"]
    new = {"PREFIX": "new:"}
    updated = await client.post("/api/pipelines/echo_pipe/valves/update", json=new, headers=admin)
    assert (await updated.get_json())["PREFIX"] == "new:"
    assert log.read_text().splitlines()[-1].startswith("valves new:")
    answer = await client.post(
        "/api/chat/completions",
        json={"model": "echo_pipe", "messages": [{"role": "user", "content": "x"}]},
        headers=admin,
    )
    assert (await answer.get_json())["choices"][0]["message"]["content"] == "new: x"
    service = app.extensions["colonnade"].state("pipelines").service
    [pid] = service.worker_pids()
    await client.post("/api/pipelines/echo_pipe/deactivate", headers=admin)
    assert lines(log) == ["startup", "valves", "shutdown"]
    assert not alive(pid)
    nothing = {"model": "echo_pipe", "messages": []}
    gone = await client.post("/api/chat/completions", json=nothing, headers=admin)
    assert gone.status_code == 404


@pytest_asyncio.fixture
async def standalone(base_config: dict[str, Any]) -> Any:
    """``await standalone.start()`` -> an app started and stopped by the test itself (same database each
    time); PostgreSQL schemas are dropped at teardown and every app still running is stopped."""
    from colonnade import db
    from colonnade.app import create_app
    from colonnade.settings import Settings
    from colonnade.testing import deep_merge

    settings = Settings.from_dict(
        deep_merge(base_config, {"host": {"load_plugins": ["completions", "pipelines"]}})
    )
    running: list[Any] = []

    class Apps:
        async def start(self) -> Any:
            app = create_app(settings, testing=True)
            test_app = app.test_app()
            await test_app.__aenter__()
            running.append(test_app)
            return app

        async def stop(self) -> None:
            await running.pop().__aexit__(None, None, None)

    yield Apps()
    while running:
        await running.pop().__aexit__(None, None, None)
    if settings.database.schema_name:
        await db.drop_postgres_schema(settings)


async def test_active_pipelines_start_and_stop_with_the_host(standalone, auth_headers, tmp_path):
    log = tmp_path / "lifecycle.log"
    app = await standalone.start()
    client = app.test_client()
    admin = await auth_headers(app, role="admin")
    valves = {"LIFECYCLE_LOG": str(log)}
    body = {"id": "echo_pipe", "content": sample("echo_pipe"), "valves": valves, "is_active": True}
    assert (await client.post("/api/pipelines", json=body, headers=admin)).status_code == 201
    [pid] = app.extensions["colonnade"].state("pipelines").service.worker_pids()
    await standalone.stop()
    assert lines(log) == ["startup", "shutdown"]
    assert not alive(pid)

    app = await standalone.start()
    # Started with the host, before any request.
    assert lines(log) == ["startup", "shutdown", "startup"]
    admin = await auth_headers(app, role="admin")
    answer = await app.test_client().post(
        "/api/chat/completions",
        json={"model": "echo_pipe", "messages": [{"role": "user", "content": "back"}]},
        headers=admin,
    )
    assert (await answer.get_json())["choices"][0]["message"]["content"] == "echo: back"
    await standalone.stop()
    assert lines(log) == ["startup", "shutdown", "startup", "shutdown"]
