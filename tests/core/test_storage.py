"""Storage: migrations apply at start on SQLite and PostgreSQL, and a restart applies nothing twice.

The ``settings`` fixture is parametrised over both backends; on PostgreSQL each test gets its own schema
(``[database] schema_name``), dropped at teardown here.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
import pytest_asyncio

from colonnade import db
from colonnade.app import create_app
from colonnade.settings import Settings


@pytest_asyncio.fixture
async def storage_settings(settings):
    """``settings`` with the PostgreSQL schema (if any) dropped once the test is over."""
    yield settings
    if settings.database.schema_name:
        await db.drop_postgres_schema(settings)


@asynccontextmanager
async def served(settings: Settings):
    """Start the application as ``colonnade serve`` would (not in testing mode), then stop it."""
    app = create_app(settings)
    async with app.test_app():
        yield app.extensions["colonnade"]


async def applied(host) -> list[tuple[str, str, str]]:
    connection = host.db.db(db.connection_name(host.settings))
    rows = await connection.execute_query_dict("SELECT app, name, applied_at FROM tortoise_migrations ORDER BY id")
    return [(row["app"], row["name"], str(row["applied_at"])) for row in rows]


@pytest.mark.asyncio
async def test_migrations_apply_at_start(storage_settings):
    from colonnade.auth.models import User

    async with served(storage_settings) as host:
        assert [(app, name) for app, name, _ in await applied(host)] == [
            ("auth", "0001_initial"),
            ("auth", "0002_change_notifications"),
        ]
        assert await User.all().count() == 0  # the tables exist
        config = db.tortoise_config(host.settings, db.collect_db_models(host.pm))
        assert await db.pending_migrations(host.db, config) == []


@pytest.mark.asyncio
async def test_a_restart_applies_nothing_again(storage_settings):
    from colonnade.auth.models import User

    async with served(storage_settings) as host:
        first = await applied(host)
        await host.state("auth").service.create_user(
            email="kept@example.test", name="Kept", password=None, role="admin"
        )
    async with served(storage_settings) as host:
        assert await applied(host) == first  # same rows, same timestamps
        assert [user.email for user in await User.all()] == ["kept@example.test"]


@pytest.mark.asyncio
async def test_a_migration_missing_from_the_record_is_not_taken_as_applied(storage_settings):
    """The restart fast path (every migration on disk recorded: nothing to load) must not hide one
    that is not recorded."""
    async with served(storage_settings) as host:
        connection = host.db.db(db.connection_name(host.settings))
        config = db.tortoise_config(host.settings, db.collect_db_models(host.pm))
        apps = {label: app for label, app in config["apps"].items() if "migrations" in app}
        assert db.migration_names(apps["auth"]["migrations"]) == {"0001_initial", "0002_change_notifications"}
        assert await db._all_applied(connection, apps)
        latest = "0002_change_notifications"
        await connection.execute_query(f"DELETE FROM tortoise_migrations WHERE name = '{latest}'")
        assert not await db._all_applied(connection, apps)  # so the full check runs, and finds it
        assert await db.pending_migrations(host.db, config) == [f"auth.{latest}"]


@pytest.mark.asyncio
async def test_migrate_on_start_can_be_switched_off(storage_settings):
    database = storage_settings.database.model_copy(update={"migrate_on_start": False})
    settings = storage_settings.model_copy(update={"database": database})
    async with served(settings) as host:
        config = db.tortoise_config(host.settings, db.collect_db_models(host.pm))
        assert await db.pending_migrations(host.db, config) == [
            "auth.0001_initial",
            "auth.0002_change_notifications",
        ]
        await db.apply_migrations(host.db, config)
        assert await db.pending_migrations(host.db, config) == []


@pytest.mark.asyncio
async def test_postgres_tables_live_in_the_test_schema(storage_settings, database_backend):
    if database_backend != "postgres":
        pytest.skip("PostgreSQL only: SQLite has no schemas")
    schema = storage_settings.database.schema_name
    async with served(storage_settings) as host:
        connection = host.db.db(db.connection_name(host.settings))
        rows = await connection.execute_query_dict(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [schema]
        )
        tables = {row["table_name"] for row in rows}
        assert {"tortoise_migrations", "auth_user"} <= tables


def test_sqlite_is_the_default_under_the_data_directory(tmp_path):
    settings = Settings.from_dict({"server": {"data_dir": str(tmp_path / "data")}})
    assert settings.database_url == f"sqlite://{tmp_path / 'data' / 'colonnade.db'}"
    assert db.connection_config(settings)["engine"] == "tortoise.backends.sqlite"
    assert (tmp_path / "data").is_dir()  # created, so a fresh checkout needs nothing by hand


def test_postgres_urls_use_asyncpg():
    settings = Settings.from_dict(
        {"database": {"url": "postgresql://u:p@127.0.0.1:5432/app", "schema_name": "tenant", "pool_max_size": 3}}
    )
    config = db.connection_config(settings)
    assert config["engine"] == "tortoise.backends.asyncpg"
    assert config["credentials"]["schema"] == "tenant"
    assert config["credentials"]["maxsize"] == 3
    assert db.connection_name(settings) == "postgres"


def test_model_comments_are_read_as_tortoise_reads_them():
    """``db.install_model_comments`` reads each module once; it must give Tortoise's own answer for every
    built-in model (the comments become schema descriptions, which migrations compare)."""
    import importlib

    import tortoise.models
    from tortoise.models import Model

    from colonnade.plugin_manager import make_plugin_manager

    db.install_model_comments()
    ours = tortoise.models._get_comments
    tortoises = ours.original
    pm = make_plugin_manager(Settings.from_dict({"host": {"load_plugins": ["*"]}}))
    checked = 0
    for modules in db.collect_db_models(pm).values():
        for name in modules:
            module = importlib.import_module(name)
            for model in vars(module).values():
                if isinstance(model, type) and issubclass(model, Model) and model.__module__ == name:
                    assert ours(model) == tortoises(model), f"{name}.{model.__name__}"
                    checked += 1
    assert checked >= 10
    memory = importlib.import_module("colonnade.plugins.memory.models")
    assert any(ours(model) for model in (memory.Memory,))  # some models do carry #: comments
