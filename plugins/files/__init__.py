"""Files: uploads streamed to a file store, downloads with ranges, and the ``register_file_stores`` hook.

Routes at ``/api/files`` (the spec) and ``/api/v1/files`` (Open WebUI). Uploads are parsed as they
arrive and streamed into the selected store, never held whole in memory; records live in the ``files``
Tortoise app (table ``files_file``).

Implements: add_hookspecs, register_config_models, register_db_models, register_actions,
register_events, register_blueprints, register_file_stores (``local`` and ``s3``), startup, shutdown,
on_event (a deleted user's files are deleted, bytes included).
Owns: ``register_file_stores(host)`` (``plugins/files/hookspecs.py``).
Config: ``[plugins.files]`` (``colonnade.plugins.files.config.FilesConfig``): ``store``, ``local_path``,
``max_size``, ``allowed_content_types``, ``idle_timeout`` and ``[plugins.files.s3]``.
Events: ``files.uploaded``, ``files.deleted``.
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def add_hookspecs(pm: Any) -> None:
    from colonnade.plugins.files import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.files.config import FilesConfig

    return {"files": FilesConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"files": ["colonnade.plugins.files.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("files.upload", "Upload files, and delete one's own"),
        Action("files.read", "List and download one's own files"),
        Action("files.manage", "Read and delete any user's files", default_role="admin"),
    ]


@hookimpl
def register_events() -> list[type]:
    from colonnade.plugins.files.events import ALL_EVENTS

    return ALL_EVENTS


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    from colonnade.plugins.files import views

    return [
        (views.bp, {"url_prefix": views.SPEC_PREFIX}),
        (views.bp_v1, {"url_prefix": views.OPEN_WEBUI_PREFIX}),
    ]


@hookimpl
def register_file_stores(host: Any) -> list[Any]:
    from colonnade.plugins.files.stores.local import LocalStore
    from colonnade.plugins.files.stores.s3 import S3Store

    config = host.plugin_config("files")
    root = config.local_path or host.settings.server.data_dir / "uploads"

    def s3_client() -> Any:
        import httpx

        return host.http_client("files_s3", timeout=httpx.Timeout(config.s3.timeout, connect=5.0))

    return [LocalStore(root), S3Store(config.s3, s3_client)]


@hookimpl
async def startup(host: Any) -> None:
    from colonnade.calling import await_me_maybe, collect_named
    from colonnade.plugins.files import views
    from colonnade.plugins.files.service import FileService
    from colonnade.plugins.files.streaming import install_raw_body_middleware

    stores = collect_named(host.pm.hook.register_file_stores(host=host), kind="file store")
    store = stores.get(host.plugin_config("files").store)  # an unknown name is a StartupError
    if hasattr(store, "start"):
        await await_me_maybe(store.start())
    host.state("files").service = FileService(host, stores, store)
    install_raw_body_middleware(host.app, views.UPLOAD_PATHS)


@hookimpl
async def shutdown(host: Any) -> None:
    service = getattr(host.state("files"), "service", None)
    if service is not None and hasattr(service.store, "close"):
        await service.store.close()


@hookimpl
async def on_event(host: Any, event: Any) -> None:
    if event.name == "auth.user_deleted":
        service = getattr(host.state("files"), "service", None)
        if service is not None:
            await service.delete_all_of(event.user_id)
