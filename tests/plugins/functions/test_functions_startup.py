"""Start-up: active functions are loaded once when the application starts; a broken one is left out."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
import pytest_asyncio
from functions_helpers import create, sample

from colonnade import db
from colonnade.app import create_app
from colonnade.settings import Settings

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def functions_settings(base_config):
    """Settings loading completions and functions, kept across two starts of the application."""
    config = {**base_config, "host": {"load_plugins": ["completions", "functions"]}}
    settings = Settings.from_dict(config)
    yield settings
    if settings.database.schema_name:
        await db.drop_postgres_schema(settings)


@asynccontextmanager
async def served(settings: Settings):
    app = create_app(settings)
    async with app.test_app():
        yield app


async def admin_headers(app) -> dict[str, str]:
    service = app.extensions["colonnade"].state("auth").service
    user = await service.create_user(email="admin@example.test", name="Admin", password=None, role="admin")
    return {"Authorization": f"Bearer {service.issue(user).token}"}


async def test_active_functions_are_loaded_at_start_and_broken_ones_left_out(functions_settings):
    from colonnade.plugins.functions.models import Function

    async with served(functions_settings) as app:
        client, headers = app.test_client(), await admin_headers(app)
        await create(client, headers, "polite", sample("polite_filter"), is_global=True)
        await create(client, headers, "echo", sample("echo_manifold"))
        await create(client, headers, "count", sample("word_count_action"), active=False)
        await create(client, headers, "broken", sample("async_pipe"))
        row = await Function.get(id="broken")
        row.content = "class Pipe:\n    def __init__(self):\n        raise RuntimeError('gone')\n"
        await row.save()

    async with served(functions_settings) as app:
        host = app.extensions["colonnade"]
        registry = host.state("functions").registry
        assert sorted(registry.live) == ["echo", "polite"]
        assert registry.failed == {"broken": row.version}
        assert host.pm.has_plugin("function:polite")
        assert not host.pm.has_plugin("function:broken")
    assert not host.pm.has_plugin("function:polite")  # shutdown unregisters them
