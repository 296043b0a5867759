"""``colonnade migrate`` and ``colonnade makemigrations``: Tortoise's built-in migrations, per plugin.

Every plugin that registers database models is one Tortoise app whose migrations live in a
``migrations`` package next to its models module (``core/db.py``). Applying goes through Tortoise's
``MigrationExecutor`` and generating through its ``MigrationAutodetector`` — the same machinery as
Tortoise's own ``tortoise makemigrations`` — but the apps come from the plugins the settings load, not
from a hand-written ``TORTOISE_ORM`` dictionary.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colonnade import db
from colonnade.errors import StartupError
from colonnade.registry import did_you_mean

if TYPE_CHECKING:
    from colonnade.settings import Settings


async def apply_pending(
    settings: Settings, pm: Any, report: Callable[[str], object] | None = None
) -> list[str]:
    """Apply every pending migration of every loaded plugin.

    :param pm: The plugin manager, whose ``register_db_models`` results name the apps.
    :param report: Called with ``"<app>.<migration>"`` as each one is applied.
    :return: The migrations applied, in order.
    """
    apps = db.collect_db_models(pm)
    context = await db.open_database(settings, apps, migrate=False)
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")
            if report is not None:
                report(applied[-1])

    try:
        await db.apply_migrations(context, db.tortoise_config(settings, apps), progress=progress)
    finally:
        await db.close_database(context)
    return applied


async def make_migrations(
    settings: Settings,
    pm: Any,
    app_labels: Iterable[str] = (),
    *,
    name: str | None = None,
    write: bool = True,
) -> list[tuple[str, Path]]:
    """Generate migration files for model changes not yet captured in a migration.

    The models are compared with the state their existing migrations build, not with a database, so
    nothing is connected to but an in-memory SQLite database.

    :param app_labels: The apps to generate for (plugin names); every app when empty.
    :param name: A name for the new migrations instead of Tortoise's ``auto_<timestamp>``.
    :param write: ``False`` only reports what would be generated (``makemigrations --check``).
    :return: ``[("<app>.<migration>", path), ...]``.
    """
    from tortoise.context import TortoiseContext
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tortoise.migrations.writer import format_migration_name

    apps = db.collect_db_models(pm)
    wanted = list(app_labels) or list(apps)
    created: list[tuple[str, Path]] = []
    for label in wanted:
        if label not in apps:
            raise StartupError(
                f"no loaded plugin registers database models under {label!r}{did_you_mean(label, list(apps))}"
            )
        if db.migrations_module_for(apps[label]):
            continue
        package = migrations_location(label, apps[label])[1]
        if write:
            ensure_migrations_package(label, apps[label])
        else:
            # Without a migrations package Tortoise's loader cannot plan the app: it needs its first one.
            created.append((f"{label}.0001_initial", package / "0001_initial.py"))
    memory = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": "sqlite://:memory:", "schema_name": None})
        }
    )
    config = db.tortoise_config(memory, apps)
    async with TortoiseContext() as context:
        await context.init(config=config)
        # Compared (and written) as they will be applied: with descriptions safe for SQL comments.
        db.sanitise_descriptions(context.apps.get_models_iterable())
        for app in config["apps"].values():
            if "migrations" in app:
                db.sanitise_migrations(app["migrations"])
        writers = await MigrationAutodetector(context.apps, config["apps"]).changes()
    for writer in writers:
        if writer.app_label not in wanted:
            continue
        if name:
            writer.name = format_migration_name(int(writer.name.split("_", 1)[0]), name)
        path = writer.write() if write else writer.path()
        created.append((f"{writer.app_label}.{writer.name}", path))
    return created


def migrations_location(label: str, models_modules: list[str]) -> tuple[str, Path]:
    """Where an app's migrations package is (or will be): next to its first models module."""
    existing = db.migrations_module_for(models_modules)
    if existing:
        module = importlib.import_module(existing)
        return existing, Path(next(iter(module.__path__)))
    first = models_modules[0]
    if "." not in first:
        raise StartupError(
            f"cannot place migrations for {label!r}: its models module {first!r} is not inside a package"
        )
    parent_name = first.rsplit(".", 1)[0]
    parent = importlib.import_module(parent_name)
    return f"{parent_name}.migrations", Path(next(iter(parent.__path__))) / "migrations"


def ensure_migrations_package(label: str, models_modules: list[str]) -> str:
    """The app's migrations package, created next to its models module when it does not exist yet."""
    module, package = migrations_location(label, models_modules)
    package.mkdir(exist_ok=True)
    init = package / "__init__.py"
    if not init.exists():
        init.write_text(
            f'"""Migrations of the {label} plugin\'s models (generated by colonnade makemigrations)."""\n'
        )
    importlib.invalidate_caches()
    return module
