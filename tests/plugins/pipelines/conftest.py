"""Fixtures for the pipelines tests: an application with completions and pipelines, served for real
clients when asked, and a check that no test leaves a worker process behind."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from pipelines_helpers import Served, sample, worker_processes


@pytest.fixture(autouse=True)
def no_worker_left_behind():
    """Set up before the application fixtures, so it checks after every app was shut down."""
    before = set(worker_processes())
    yield
    left = set(worker_processes()) - before
    assert not left, f"worker processes left running: {sorted(left)}"


@pytest_asyncio.fixture
async def pipelines_app(make_app: Any, auth_headers: Any) -> Any:
    """``await pipelines_app(**pipelines_config)`` -> ``(app, client, admin headers)``."""

    async def factory(config: dict | None = None, **options: Any) -> Any:
        settings = {"plugins": {"pipelines": {"timeout_seconds": 10, **options}}}
        if config:
            settings["plugins"].update(config)
        app = await make_app(config=settings, load_plugins=["completions", "pipelines"])
        return app, app.test_client(), await auth_headers(app, role="admin")

    return factory


@pytest_asyncio.fixture
async def served(pipelines_app: Any, serve_app: Any) -> Any:
    """``await served(**pipelines_config)`` -> :class:`Served`, stopped at teardown."""
    made: list[Served] = []

    async def factory(**options: Any) -> Served:
        app, _, admin = await pipelines_app(**options)
        made.append(Served(app, await serve_app(app), admin))
        return made[-1]

    yield factory

    for item in made:
        for client in item.clients:
            await client.close()


@pytest.fixture
def create():
    """``await create(client, headers, sample_name, **fields)`` -> the created pipeline (asserts 201)."""

    async def make(client: Any, headers: dict, name: str, **fields: Any) -> dict:
        body = {"id": name, "content": sample(name), **fields}
        response = await client.post("/api/pipelines", json=body, headers=headers)
        assert response.status_code == 201, await response.get_json()
        return await response.get_json()

    return make
