"""Hook specifications owned by the ``rag`` plugin (added through ``add_hookspecs``).

Both run once, when ``rag`` starts; ``[plugins.rag] vector_store`` and ``embedding_function`` pick one
of what was registered. The protocols live in :mod:`colonnade.plugins.rag.vectors` and
:mod:`colonnade.plugins.rag.embedding`; other plugins reach the configured pair through
``host.state("rag").service`` (:class:`colonnade.plugins.rag.service.RagService`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from colonnade.hookspecs import hookspec

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.plugins.rag.embedding import EmbeddingFunction
    from colonnade.plugins.rag.vectors import VectorStore


@hookspec
def register_vector_stores(host: Host) -> list[VectorStore]:
    """Register places where chunks and their vectors are kept and searched.

    Called once when the ``rag`` plugin starts. ``[plugins.rag] vector_store`` names the one used; the
    selected store's optional ``start()`` is awaited then and its optional ``close()`` at shutdown.

    :param host: The application host (read your own ``[plugins.<name>]`` section through it).
    :return: A list of objects implementing :class:`colonnade.plugins.rag.vectors.VectorStore`, each
        with a unique ``name``. Construction must be cheap, do no I/O and import nothing heavy
        (connect and import the client library on first use).

    Collect, sync. A duplicate name, or a ``vector_store`` setting naming no registered store, is a
    start-up error. Implemented by: ``rag`` (``lancedb``).

    Example::

        @hookimpl
        def register_vector_stores(host):
            return [MemoryVectorStore()]
    """


@hookspec
def register_embedding_functions(host: Host) -> list[EmbeddingFunction]:
    """Register ways of turning texts into vectors.

    Called once when the ``rag`` plugin starts. ``[plugins.rag] embedding_function`` names the one used
    and ``embedding_model`` the model it is asked for; the pair is recorded on every collection, so
    a collection filled by another function or model is refused with a clear error.

    :param host: The application host (reach your pooled upstream clients through it).
    :return: A list of objects implementing :class:`colonnade.plugins.rag.embedding.EmbeddingFunction`,
        each with a unique ``name``. Construction must be cheap, do no I/O and import nothing heavy.

    Collect, sync. A duplicate name, or an ``embedding_function`` setting naming no registered
    function, is a start-up error. Provider plugins that also load without ``rag`` mark their impl
    ``@hookimpl(optionalhook=True)``. Implemented by: ``rag`` (``local``: sentence-transformers,
    with the ``local-embeddings`` extra), ``openai``, ``ollama``.

    Example::

        @hookimpl(optionalhook=True)
        def register_embedding_functions(host):
            return [MyEmbeddings(host.http_client("mine"))]
    """
