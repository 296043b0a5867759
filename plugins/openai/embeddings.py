"""The ``openai`` embedding function for the ``rag`` feature: ``/embeddings`` of the connection that
lists the model, through its pooled client (``[plugins.rag] embedding_function = "openai"``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from colonnade.plugins.openai.upstreams import UpstreamError

if TYPE_CHECKING:
    from colonnade.plugins.openai.service import OpenAIService


class OpenAIEmbeddings:
    """An ``EmbeddingFunction`` (:mod:`colonnade.plugins.rag.embedding`) over the OpenAI connections.

    :param service: The plugin's :class:`OpenAIService`; the model id is routed like a chat model's
        (prefix and all), and the vectors come back in input order.
    """

    name = "openai"
    batch_size = 256

    def __init__(self, service: OpenAIService) -> None:
        self.service = service

    def dimension(self, model: str) -> int | None:
        return None

    async def embed(self, texts: Sequence[str], model: str) -> list[list[float]]:
        import httpx

        from colonnade.plugins.rag.embedding import EmbeddingError

        try:
            upstream, own = await self.service.resolve(model, None)
            response = await upstream.send("embeddings", {"model": own, "input": list(texts)}, own)
        except UpstreamError as error:
            raise EmbeddingError(error.detail, 400 if error.status == 404 else error.status) from None
        try:
            raw = await response.aread()
        except httpx.HTTPError as error:  # the connection broke mid-body
            raise EmbeddingError(f"{upstream.label} failed: {type(error).__name__}") from None
        finally:
            await response.aclose()
        try:
            data: Any = json.loads(raw)["data"]
            ordered = sorted(data, key=lambda item: item.get("index", 0))
            return [list(item["embedding"]) for item in ordered]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EmbeddingError(f"{upstream.label} sent embeddings in an unknown shape") from None
