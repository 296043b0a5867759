"""Retrieval-augmented generation: vector stores, embedding functions and the retrieval service.

Chunks and their vectors live in a vector store (LanceDB by default: an embedded directory under the
data directory, or object storage); texts are turned into vectors by the configured embedding
function. ``lancedb``, ``pyarrow`` and the local model are imported on first use only.

Implements: add_hookspecs, register_config_models, startup, shutdown, register_vector_stores
(``lancedb``), register_embedding_functions (``local``: sentence-transformers, with the
``local-embeddings`` extra).
Owns: ``register_vector_stores(host)`` and ``register_embedding_functions(host)``
(``plugins/rag/hookspecs.py``); the protocols are in ``vectors.py`` and ``embedding.py``.
Config: ``[plugins.rag]`` (``colonnade.plugins.rag.config.RagConfig``).
State: ``host.state("rag").service`` (:class:`colonnade.plugins.rag.service.RagService`: ``.store``,
``.embedder``, ``index``, ``search``, ``delete``, ``drop``).
"""

from __future__ import annotations

from typing import Any

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
def register_vector_stores(host: Any) -> list[Any]:
    from colonnade.plugins.rag.lance import LanceDBStore

    config = host.plugin_config("rag")
    uri = config.vector_store_uri or str(host.settings.server.data_dir / "vectors")
    return [LanceDBStore(uri, config.vector_store_options)]


@hookimpl
def register_embedding_functions(host: Any) -> list[Any]:
    from colonnade.plugins.rag.local import LocalEmbeddings

    return [LocalEmbeddings()]


@hookimpl
async def startup(host: Any) -> None:
    from colonnade.calling import await_me_maybe, collect_named
    from colonnade.plugins.rag.embedding import Embedder
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
    host.state("rag").service = RagService(host, config, store, embedder, stores, functions)


@hookimpl
async def shutdown(host: Any) -> None:
    service = getattr(host.state("rag"), "service", None)
    if service is not None and hasattr(service.store, "close"):
        await service.store.close()
