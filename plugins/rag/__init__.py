"""Retrieval-augmented generation and knowledge bases: ingestion, search and context for completions.

Chunks and their vectors live in a vector store (LanceDB by default: an embedded directory under the
data directory, or object storage); texts are turned into vectors by the configured embedding
function. ``lancedb``, ``pyarrow``, ``pypdf`` and the local model are imported on first use only.
Routes: ``/api/rag`` and ``/api/v1/retrieval`` (``views.py``), ``/api/knowledge`` and
``/api/v1/knowledge`` (``knowledge_views.py``). Details: ``docs/api/rag.md``, ``docs/api/knowledge.md``.

Implements: add_hookspecs, register_config_models, register_db_models, register_actions,
register_blueprints, startup, shutdown, on_event (index uploads, forget deleted files and users),
permission_allowed (``knowledge.create`` from the permission tree), register_vector_stores
(``lancedb``), register_embedding_functions (``local``: sentence-transformers, with the
``local-embeddings`` extra), and (optional: rag loads without completions) completion_inlet,
completion_stream_wrapper and completion_outlet (context injection and ``sources``).
Owns: ``register_vector_stores(host)`` and ``register_embedding_functions(host)``
(``plugins/rag/hookspecs.py``); the protocols are in ``vectors.py`` and ``embedding.py``.
Config: ``[plugins.rag]`` (``colonnade.plugins.rag.config.RagConfig``).
State: ``host.state("rag").service`` (:class:`colonnade.plugins.rag.service.RagService`: ``.store``,
``.embedder``, ``index``, ``search``, ``delete``, ``drop``).
"""

from __future__ import annotations

from typing import Any

from colonnade.actors import Action
from colonnade.hookspecs import hookimpl


@hookimpl
def add_hookspecs(pm: Any) -> None:
    from colonnade.plugins.rag import hookspecs

    pm.add_hookspecs(hookspecs)


@hookimpl
def register_config_models() -> dict[str, Any]:
    from colonnade.plugins.rag.config import RagConfig

    return {"rag": RagConfig}


@hookimpl
def register_db_models() -> dict[str, list[str]]:
    return {"rag": ["colonnade.plugins.rag.models"]}


@hookimpl
def register_actions(host: Any) -> list[Action]:
    return [
        Action("rag.use", "Ingest texts and files, search them, and use knowledge bases shared with you"),
        Action(
            "knowledge.create",
            "Create knowledge bases (Open WebUI workspace.knowledge)",
            default_role="admin",
        ),
        Action("knowledge.share_public", "Share a knowledge base with every user", default_role="admin"),
        Action(
            "rag.manage", "Delete vectors of any collection and re-index everything", default_role="admin"
        ),
    ]


@hookimpl
def register_blueprints(host: Any) -> list[Any]:
    # config_views and loader_views add their routes to views.bp_v1.
    from colonnade.plugins.rag import config_views, knowledge_views, loader_views, views  # noqa: F401

    return [
        (views.bp, {"url_prefix": views.SPEC_PREFIX}),
        (views.bp_v1, {"url_prefix": views.OPEN_WEBUI_PREFIX}),
        (views.bp_files_v1, {"url_prefix": "/api/v1/files"}),
        *(
            (knowledge_views.bp, {"url_prefix": prefix, "name": name})
            for name, prefix in knowledge_views.PREFIXES.items()
        ),
    ]


@hookimpl
def permission_allowed(host: Any, actor: Any, action: str) -> Any:
    """Let users create knowledge bases when configured, or when a group of theirs grants
    ``workspace.knowledge``; abstain otherwise."""
    if action != "knowledge.create" or actor is None or actor.role != "user":
        return None
    if host.plugin_config("rag").users_can_create_knowledge:
        return True

    async def granted_by_a_group() -> bool | None:
        from colonnade.auth.models import Group

        for permissions in await Group.filter(members__id=actor.id).values_list("permissions", flat=True):
            if ((permissions or {}).get("workspace") or {}).get("knowledge") is True:
                return True
        return None

    return granted_by_a_group()


@hookimpl
def register_vector_stores(host: Any) -> list[Any]:
    from colonnade.plugins.rag.lance import LanceDBStore

    config = host.plugin_config("rag")
    uri = config.vector_store_uri or str(host.settings.server.data_dir / "vectors")
    return [LanceDBStore(uri, config.vector_store_options, index_min_rows=config.vector_index_min_rows)]


@hookimpl
def register_embedding_functions(host: Any) -> list[Any]:
    from colonnade.plugins.rag.local import LocalEmbeddings

    return [LocalEmbeddings()]


@hookimpl
async def startup(host: Any) -> None:
    from colonnade.calling import await_me_maybe, collect_named
    from colonnade.plugins.rag import overrides
    from colonnade.plugins.rag.embedding import Embedder
    from colonnade.plugins.rag.ingest import Ingestor
    from colonnade.plugins.rag.service import RagService

    config = host.plugin_config("rag")
    stores = collect_named(host.pm.hook.register_vector_stores(host=host), kind="vector store")
    functions = collect_named(host.pm.hook.register_embedding_functions(host=host), kind="embedding function")
    store = stores.get(config.vector_store)  # an unknown name is a StartupError
    function = functions.get(config.embedding_function)
    if hasattr(store, "start"):
        await await_me_maybe(store.start())
    embedder = Embedder(
        function, config.embedding_model, config.embedding_batch_size, config.embedding_concurrency
    )
    service = RagService(host, config, store, embedder, stores, functions)
    host.state("rag").service = service
    host.state("rag").ingestor = Ingestor(service)
    await overrides.load(host)  # the admin's changes to the retrieval settings, over the file's


@hookimpl
async def shutdown(host: Any) -> None:
    ingestor = getattr(host.state("rag"), "ingestor", None)
    if ingestor is not None:
        await ingestor.cancel()
    service = getattr(host.state("rag"), "service", None)
    if service is not None and hasattr(service.store, "close"):
        await service.store.close()


@hookimpl
async def on_event(host: Any, event: Any) -> None:
    if getattr(host.state("rag"), "service", None) is None:
        return
    if event.name == "files.uploaded" and host.plugin_config("rag").index_on_upload:
        from colonnade.plugins.files.models import File

        record = await File.get_or_none(id=event.file_id)
        if record is not None:
            await host.state("rag").ingestor.set_file_data(record, status="pending")
            host.state("rag").ingestor.schedule_file(record)
    elif event.name == "files.deleted":
        from colonnade.plugins.rag.knowledge_ops import forget_file

        await forget_file(host, event.file_id)
    elif event.name == "auth.user_deleted":
        from colonnade.plugins.rag.knowledge_ops import forget_user

        await forget_user(host, event.user_id)


@hookimpl(optionalhook=True)
def completion_inlet(host: Any, ctx: Any) -> Any:
    from colonnade.plugins.rag.retrieval import add_context, items_of

    if not items_of(ctx):
        return None
    return add_context(host, ctx)


@hookimpl(optionalhook=True)
def completion_stream_wrapper(host: Any, ctx: Any) -> Any:
    from colonnade.plugins.rag.retrieval import SOURCES_KEY, sources_first

    sources = ctx.metadata.get(SOURCES_KEY)
    return sources_first(sources) if sources else None


@hookimpl(optionalhook=True)
def completion_outlet(host: Any, ctx: Any, response: dict) -> None:
    from colonnade.plugins.rag.retrieval import SOURCES_KEY

    if ctx.metadata.get(SOURCES_KEY):
        response["sources"] = ctx.metadata[SOURCES_KEY]
