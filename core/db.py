"""Storage: one Tortoise app per plugin, SQLite by default, PostgreSQL through asyncpg.

The Tortoise configuration is built from what plugins return from ``register_db_models``. Each app's
migrations live in a ``migrations`` package beside its models module; ``colonnade migrate`` (and
``serve``, unless told not to) applies the pending ones. Schemas are generated from models only in tests,
and only for test plugins that ship no migrations.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import pkgutil
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colonnade.errors import StartupError

if TYPE_CHECKING:
    from tortoise.context import TortoiseContext

    from colonnade.settings import Settings

log = logging.getLogger("colonnade.db")


# -- field comments -------------------------------------------------------------------------------------

#: Tortoise's pattern for the ``#:`` comments above a model's fields (``tortoise.models._get_comments``).
_FIELD_COMMENT = re.compile(r"((?:(?!\n|^)[^\w\n]*#:.*?\n)+?)[^\w\n]*(\w+)\s*[:=]")
_COMMENT_MARKS = re.compile(r"(^\s*#:\s*|\s*$)", re.MULTILINE)
#: ``module file -> {class name: source}`` for the top-level classes of modules that define models.
_CLASS_SOURCES: dict[str, dict[str, str]] = {}


def install_model_comments() -> None:
    """Give Tortoise a faster way to read the ``#:`` comments above model fields.

    Tortoise reads them from each model class's source with ``inspect.getsource``, which parses the
    whole module again for every class (about 2 ms a model: a twentieth of the start-up with the
    built-in plugins). This reads each module once and answers exactly what Tortoise's own function
    does; classes it cannot place (defined inside a function, or twice in one module) take Tortoise's
    path.
    """
    import tortoise.models

    if getattr(tortoise.models._get_comments, "colonnade", False):
        return
    original = tortoise.models._get_comments

    def model_comments(cls: type) -> dict[str, str]:
        source = _class_source(cls)
        if source is None:
            return original(cls)
        return {
            name: _COMMENT_MARKS.sub("", text).replace("{model}", cls.__name__)
            for text, name in _FIELD_COMMENT.findall(source)
        }

    model_comments.colonnade = True  # type: ignore[attr-defined]
    model_comments.original = original  # type: ignore[attr-defined]
    tortoise.models._get_comments = model_comments


def _class_source(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    if not filename or cls.__qualname__ != cls.__name__:
        return None
    classes = _CLASS_SOURCES.get(filename)
    if classes is None:
        try:
            with open(filename, encoding="utf-8") as file:
                text = file.read()
            tree = ast.parse(text)
        except (OSError, SyntaxError, ValueError):
            return None
        lines = text.splitlines(keepends=True)
        classes = {}
        seen: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                start = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
                if node.name in seen:
                    classes.pop(node.name, None)  # defined twice: let Tortoise decide
                    continue
                seen.add(node.name)
                classes[node.name] = "".join(lines[start - 1 : node.end_lineno])
        _CLASS_SOURCES[filename] = classes
    return classes.get(cls.__name__)


def connection_name(settings: Settings) -> str:
    """The Tortoise connection's name: the backend's, because Tortoise caches each model's SQL per
    connection name for the whole process, and SQLite and PostgreSQL need different SQL."""
    return "sqlite" if settings.database_url.startswith("sqlite://") else "postgres"


async def release_without_reset(connection: Any) -> None:
    """asyncpg's ``reset`` for pooled connections: nothing beyond the rollback of an open transaction
    that asyncpg always does.

    Tortoise takes a connection from the pool for every query outside a transaction, and asyncpg's
    default reset sends ``RESET ALL; CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all()`` on each
    release: a second round trip per query. Colonnade sets no session state (the schema comes from the
    connection's ``search_path`` server setting), holds no cursors and listens on nothing through the
    pool, so there is nothing to reset.
    """


def migrations_module_for(models_modules: list[str]) -> str | None:
    """``pkg.models`` -> ``pkg.migrations`` when that package exists."""
    for module in models_modules:
        candidate = module.rsplit(".", 1)[0] + ".migrations" if "." in module else None
        if candidate and importlib.util.find_spec(candidate) is not None:
            return candidate
    return None


def connection_config(settings: Settings) -> dict[str, Any]:
    from tortoise.backends.base.config_generator import expand_db_url

    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        # Make sure the directory exists so a fresh checkout starts with nothing to create by hand.
        if path not in (":memory:", ""):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = expand_db_url(url)
    if config["engine"] == "tortoise.backends.sqlite":
        config["credentials"]["synchronous"] = settings.database.sqlite_synchronous  # a pragma
    if config["engine"] == "tortoise.backends.asyncpg":
        config["credentials"]["maxsize"] = settings.database.pool_max_size
        config["credentials"]["reset"] = release_without_reset
        if settings.database.schema_name:
            config["credentials"]["schema"] = settings.database.schema_name
    return config


def tortoise_config(settings: Settings, apps: dict[str, list[str]]) -> dict[str, Any]:
    """The Tortoise configuration dictionary for ``apps`` (``{label: [models modules]}``)."""
    apps_config: dict[str, Any] = {}
    for label, modules in apps.items():
        app: dict[str, Any] = {"models": list(modules), "default_connection": connection_name(settings)}
        migrations = migrations_module_for(list(modules))
        if migrations:
            app["migrations"] = migrations
        apps_config[label] = app
    return {
        "connections": {connection_name(settings): connection_config(settings)},
        "apps": apps_config,
        "use_tz": True,
        "timezone": "UTC",
    }


def collect_db_models(pm: Any) -> dict[str, list[str]]:
    """``{app label: [models modules]}`` from every plugin's ``register_db_models``.

    :raises StartupError: When a plugin's hook fails or two plugins claim one app label (named).
    """
    from colonnade.hookcalls import results_by_plugin

    apps: dict[str, list[str]] = {}
    owners: dict[str, str] = {}
    for plugin_name, result in results_by_plugin(pm, "register_db_models"):
        for label, modules in (result or {}).items():
            if label in apps:
                first, second = sorted((owners[label], plugin_name))
                raise StartupError(
                    f"plugins {first!r} and {second!r} both register Tortoise models under "
                    f"the app label {label!r}"
                )
            apps[label] = list(modules)
            owners[label] = plugin_name
    return apps


async def open_database(
    settings: Settings, apps: dict[str, list[str]], *, migrate: bool, generate_missing: bool = False
) -> TortoiseContext:
    """Initialise Tortoise for one application and bring the schema up to date.

    :param migrate: Apply pending migrations.
    :param generate_missing: Create tables for apps that ship no migrations (tests only).
    """
    from tortoise import Tortoise

    config = tortoise_config(settings, apps)
    without = [label for label, app in config["apps"].items() if "migrations" not in app]
    if without and not generate_missing:
        raise StartupError(
            f"plugin {without[0]!r} has database models but no migrations package; "
            f"run `colonnade makemigrations {without[0]}`"
        )
    if settings.database.schema_name:
        await _ensure_postgres_schema(config["connections"][connection_name(settings)], settings.database.schema_name)
    # The lifespan task initialises Tortoise and request tasks use it: the global fallback lets them.
    context = await Tortoise.init(config=config, _enable_global_fallback=True)
    sanitise_descriptions(context.apps.get_models_iterable())
    try:
        if migrate:
            await apply_migrations(context, config)
        if generate_missing and without:
            await context.generate_schemas(safe=True)
    except BaseException:
        await close_database(context)
        raise
    return context


async def apply_migrations(context: TortoiseContext, config: dict[str, Any], progress: Any = None) -> None:
    """Apply every pending migration of every app that has a migrations package."""
    with_migrations = {label: app for label, app in config["apps"].items() if "migrations" in app}
    if not with_migrations:
        return
    if await _all_applied(context.db(_only_connection(config)), with_migrations):
        return
    from tortoise.migrations.executor import MigrationExecutor

    for app in with_migrations.values():
        sanitise_migrations(app["migrations"])
    executor = MigrationExecutor(context.db(_only_connection(config)), with_migrations)
    await executor.migrate(progress=progress)


def migration_names(package: str) -> set[str]:
    """The migrations of one migrations package, named as Tortoise's loader names them, without
    importing them."""
    spec = importlib.util.find_spec(package)
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        return set()
    return {
        name for _, name, is_package in pkgutil.iter_modules(locations) if not is_package and name[0] not in "_~"
    }


async def _all_applied(connection: Any, apps: dict[str, Any]) -> bool:
    """Whether every migration on disk is recorded as applied: the usual case on a restart, answered
    with one query instead of importing Tortoise's migration machinery and every migration module
    (a tenth of a second of each start). Anything unusual (no table yet, a query error, a migration
    not recorded) says no, and the full check runs."""
    on_disk = {(label, name) for label, app in apps.items() for name in migration_names(app["migrations"])}
    try:
        rows = await connection.execute_query_dict('SELECT app, name FROM tortoise_migrations')
    except Exception:  # noqa: BLE001 - a fresh database has no such table: the full path creates it
        return False
    return on_disk <= {(row["app"], row["name"]) for row in rows}


async def pending_migrations(context: TortoiseContext, config: dict[str, Any]) -> list[str]:
    from tortoise.migrations.executor import MigrationExecutor

    with_migrations = {label: app for label, app in config["apps"].items() if "migrations" in app}
    if not with_migrations:
        return []
    plan = await MigrationExecutor(context.db(_only_connection(config)), with_migrations).plan()
    return [f"{step.migration.app_label}.{step.migration.name}" for step in plan if not step.backward]


#: What a schema comment may not contain, and what stands in for it (see :func:`sanitise_descriptions`).
_COMMENT_SAFE = str.maketrans({";": ",", "'": "\u2019"})


def safe_description(text: str | None) -> str | None:
    """``text`` with ``;`` and ``'`` replaced (by ``,`` and a typographic apostrophe)."""
    return text.translate(_COMMENT_SAFE) if text else text


def sanitise_descriptions(models: Iterable[Any]) -> None:
    """Make the descriptions of ``models`` safe to become SQL comments, in place.

    Tortoise turns a model's docstring (its first line) into a table comment and each field's ``#:``
    comment (or ``description=``) into a column comment, and its SQLite schema editor splits a
    migration's DDL on ``;``: a semicolon in a docstring broke table creation. Descriptions without
    ``;`` or ``'`` are unchanged, so migrations generated before stay in step with the models.
    """
    for model in models:
        meta = model._meta
        meta.table_description = safe_description(meta.table_description) or ""
        for field in meta.fields_map.values():
            _sanitise_field(field)


def sanitise_migrations(module_name: str) -> None:
    """Apply :func:`safe_description` to the descriptions written in an app's migration files, in place.

    ``CreateModel`` carries the model's description in its options and each field its own, so a
    migration generated before the models were made safe would still break; Tortoise's loader imports
    the same module objects afterwards and sees the safe text.
    """
    from tortoise.migrations.migration import Migration

    package = importlib.import_module(module_name)
    for _, name, is_package in pkgutil.iter_modules(package.__path__):
        if is_package or name[0] in "_~":
            continue
        migration = getattr(importlib.import_module(f"{module_name}.{name}"), "Migration", None)
        if not (isinstance(migration, type) and issubclass(migration, Migration)):
            continue  # Tortoise's loader reports it
        for operation in migration.operations:
            options = getattr(operation, "options", None)
            if isinstance(options, dict) and options.get("table_description"):
                options["table_description"] = safe_description(options["table_description"])
            for entry in getattr(operation, "fields", None) or ():
                if isinstance(entry, tuple) and len(entry) == 2:
                    _sanitise_field(entry[1])
            _sanitise_field(getattr(operation, "field", None))


def _sanitise_field(field: Any) -> None:
    if isinstance(getattr(field, "description", None), str):
        field.description = safe_description(field.description)


def _only_connection(config: dict[str, Any]) -> str:
    (name,) = config["connections"]
    return name


async def close_database(context: TortoiseContext | None) -> None:
    from tortoise import context as tortoise_context

    if context is None:
        return
    from colonnade.rawsql import close_inline_connections

    await close_inline_connections()
    await context.close_connections()
    if tortoise_context._global_context is context:
        tortoise_context._global_context = None


async def _execute_on_postgres(connection: dict[str, Any], statement: str) -> None:
    """Run one statement on a short-lived connection outside Tortoise (schema set-up and teardown)."""
    import asyncpg

    credentials = connection["credentials"]
    conn = await asyncpg.connect(
        host=credentials.get("host"),
        port=credentials.get("port"),
        user=credentials.get("user"),
        password=credentials.get("password"),
        database=credentials.get("database"),
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _ensure_postgres_schema(connection: dict[str, Any], schema: str) -> None:
    await _execute_on_postgres(connection, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


async def drop_postgres_schema(settings: Settings) -> None:
    """Remove a test's PostgreSQL schema and everything in it."""
    schema = settings.database.schema_name
    await _execute_on_postgres(connection_config(settings), f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
