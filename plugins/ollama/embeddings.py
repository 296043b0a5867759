"""The ``ollama`` embedding function for the ``rag`` feature: ``/api/embed`` of a server that has the
model, through its pooled client (``[plugins.rag] embedding_function = "ollama"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError

if TYPE_CHECKING:
    from colonnade.host import Host


class OllamaEmbeddings:
    """An ``EmbeddingFunction`` (:mod:`colonnade.plugins.rag.embedding`) over the Ollama servers.

    :param host: The application host (the upstreams are built on first use).
    """

    name = "ollama"
    batch_size = 64

    def __init__(self, host: Host) -> None:
        self.host = host

    def dimension(self, model: str) -> int | None:
        return None

    async def embed(self, texts: Sequence[str], model: str) -> list[list[float]]:
        from colonnade.plugins.ollama.upstreams import upstreams_of
        from colonnade.plugins.rag.embedding import EmbeddingError

        try:
            upstream, local = await upstreams_of(self.host).resolve(model)
            answer: Any = await upstream.request_json(
                "POST", "/api/embed", {"model": local, "input": list(texts)}
            )
        except ApiError as error:
            raise EmbeddingError(error.detail, 400 if error.status == 404 else error.status) from None
        vectors = answer.get("embeddings") if isinstance(answer, dict) else None
        if not isinstance(vectors, list):
            raise EmbeddingError(f"{upstream.label} sent embeddings in an unknown shape")
        return [list(vector) for vector in vectors]
