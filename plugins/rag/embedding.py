"""The ``EmbeddingFunction`` protocol (what embedding plugins implement) and the configured embedder.

An embedding function turns texts into vectors for a model it is told. Plugins register instances
through ``register_embedding_functions``; ``[plugins.rag]`` picks one by ``embedding_function`` and a
model by ``embedding_model``. The ``rag`` plugin wraps that pair in an :class:`Embedder`, which is what
the rest of the application uses (``host.state("rag").service.embedder``): it sends texts in batches,
learns the dimension and checks every vector has it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


class EmbeddingError(Exception):
    """Embedding failed (an upstream down, a model missing, a vector of the wrong length).

    :param detail: Human-readable, naming what failed; never include API keys.
    :param status: The status for an HTTP client: 502 for an upstream failure, 504 for a timeout, a
        4xx when the request itself was at fault (an unknown model is 400).
    """

    def __init__(self, detail: str, status: int = 502) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@runtime_checkable
class EmbeddingFunction(Protocol):
    """A source of embeddings.

    ``name`` is the value operators put in ``[plugins.rag] embedding_function`` (``local``,
    ``openai``, ``ollama``). ``batch_size`` is the most texts one ``embed`` call gets.
    """

    name: str
    batch_size: int

    def dimension(self, model: str) -> int | None:
        """The length of ``model``'s vectors when known without asking (a local model), else ``None``:
        the embedder then learns it from the first vectors. Must not do I/O."""
        ...

    async def embed(self, texts: Sequence[str], model: str) -> list[list[float]]:
        """One vector per text, in order.

        :param texts: At most ``batch_size`` non-empty strings.
        :param model: The configured model (for an upstream, its id there).
        :raises EmbeddingError: the texts could not be embedded. CPU-bound work (a local model) must
            run off the event loop (``asyncio.to_thread``).
        """
        ...


class Embedder:
    """The configured embedding function bound to its model; the one object callers use.

    :param function: The selected :class:`EmbeddingFunction`.
    :param model: ``[plugins.rag] embedding_model``.
    :param batch_size: The most texts sent at once (the smaller of this and the function's own).
    :param concurrency: How many batches may be in flight at once.
    """

    def __init__(
        self, function: EmbeddingFunction, model: str, batch_size: int = 64, concurrency: int = 2
    ) -> None:
        self.function = function
        self.model = model
        self.batch_size = max(1, min(batch_size, getattr(function, "batch_size", batch_size) or batch_size))
        self.concurrency = max(1, concurrency)
        self._dimension: int | None = function.dimension(model)

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def key(self) -> str:
        """``"<function>:<model>"``: what a collection records, so mixed vectors are refused."""
        return f"{self.function.name}:{self.model}"

    async def dimension(self) -> int:
        """The vectors' length; asks the function once (embedding a short probe) when not known."""
        if self._dimension is None:
            await self.embed(["dimension probe"])
        assert self._dimension is not None
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in batches, newlines turned into spaces (as Open WebUI does).

        :raises EmbeddingError: the function failed or returned vectors of the wrong count or length.
        """
        cleaned = [text.replace("\r", " ").replace("\n", " ").strip() or " " for text in texts]
        batches = [
            cleaned[start : start + self.batch_size] for start in range(0, len(cleaned), self.batch_size)
        ]
        gate = asyncio.Semaphore(self.concurrency)

        async def one(batch: list[str]) -> list[list[float]]:
            async with gate:
                vectors = await self.function.embed(batch, self.model)
            if len(vectors) != len(batch):
                raise EmbeddingError(
                    f"embedding function {self.name!r} returned {len(vectors)} vectors for {len(batch)} texts"
                )
            return [self._checked(vector) for vector in vectors]

        results = await asyncio.gather(*(one(batch) for batch in batches))
        return [vector for batch in results for vector in batch]

    def _checked(self, vector: Sequence[float]) -> list[float]:
        if self._dimension is None:
            if not vector:
                raise EmbeddingError(f"embedding function {self.name!r} returned an empty vector")
            self._dimension = len(vector)
        if len(vector) != self._dimension:
            raise EmbeddingError(
                f"embedding function {self.name!r} (model {self.model!r}) returned a vector of "
                f"{len(vector)} numbers, not {self._dimension}"
            )
        if type(vector) is list and (not vector or type(vector[0]) is float):
            return vector  # already what the stores take; the store checks the values
        return [float(value) for value in vector]
