"""Serve a whole colonnade application on loopback, so real Ollama clients can talk to it.

``make_app`` starts an application inside the test client only; the SDKs need a socket. So the app is
built with ``create_app`` and served by hypercorn through ``fake_upstream`` (which serves any Quart
app), whose ASGI lifespan runs colonnade's start-up and shutdown. PostgreSQL schemas are dropped by a
fixture set up before ``fake_upstream``, so it runs after the server (and its connections) stopped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio


@dataclass
class Served:
    app: Any
    base_url: str

    @property
    def ollama_url(self) -> str:
        return f"{self.base_url}/ollama"


@pytest_asyncio.fixture
async def _drop_schemas() -> AsyncIterator[list[Any]]:
    settings: list[Any] = []
    yield settings
    from colonnade import db

    for app_settings in settings:
        await db.drop_postgres_schema(app_settings)


@pytest_asyncio.fixture
async def serve_app(_drop_schemas: list[Any], base_config: dict[str, Any], fake_upstream: Any) -> Any:
    """``await serve_app(config)`` -> :class:`Served`: a started colonnade app on 127.0.0.1."""
    from colonnade.app import create_app
    from colonnade.settings import Settings
    from colonnade.testing import deep_merge

    async def start(config: Mapping[str, Any], load_plugins: list[str] | None = None) -> Served:
        merged = deep_merge(base_config, config)
        merged = deep_merge(merged, {"host": {"load_plugins": load_plugins or ["ollama"]}})
        settings = Settings.from_dict(merged)
        if settings.database.schema_name:
            _drop_schemas.append(settings)
        app = create_app(settings, testing=True)
        running = await fake_upstream(app)
        return Served(app, running.base_url)

    return start


@pytest.fixture
def ollama_config() -> Any:
    """``ollama_config(*fakes_or_dicts, **options)`` -> the ``[plugins.ollama]`` config for them."""
    return upstream_config


def upstream_config(*upstreams: Any, **options: Any) -> dict[str, Any]:
    """``[plugins.ollama]`` for running fakes (or dicts of upstream settings), named u0, u1, ..."""
    entries = []
    for index, upstream in enumerate(upstreams):
        entry = dict(upstream) if isinstance(upstream, dict) else {"base_url": upstream.base_url}
        entry.setdefault("name", f"u{index}")
        entries.append(entry)
    return {"plugins": {"ollama": {"models_cache_ttl": 0, **options, "upstreams": entries}}}
