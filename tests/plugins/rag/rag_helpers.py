"""Helpers for the rag tests: a deterministic embedding function and a complete in-memory vector store.

``WordEmbeddings`` hashes each word into one of ``dimension`` buckets (a bag of words, L2-normalised),
so texts sharing words are near each other: retrieval behaves meaningfully without any model.
``MemoryVectorStore`` is what a third-party vector store plugin implements, in plain Python.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

from colonnade import hookimpl
from colonnade.plugins.rag.vectors import (
    CollectionInfo,
    CollectionMismatch,
    VectorHit,
    VectorRecord,
    check_filter,
)

WORD = re.compile(r"[a-z0-9]+")


def word_vector(text: str, dimension: int = 64) -> list[float]:
    vector = [0.0] * dimension
    for word in WORD.findall(text.lower()):
        bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % dimension
        vector[bucket] += 1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


class WordEmbeddings:
    """An ``EmbeddingFunction``: bag-of-words vectors, counting every call."""

    batch_size = 8

    def __init__(self, name: str = "words", dimension: int = 64) -> None:
        self.name = name
        self.size = dimension
        self.calls: list[list[str]] = []

    def dimension(self, model: str) -> int | None:
        return None  # learned from the first vectors, like an upstream's

    async def embed(self, texts: Sequence[str], model: str) -> list[list[float]]:
        self.calls.append(list(texts))
        return [word_vector(text, self.size) for text in texts]

    @property
    def embedded(self) -> int:
        return sum(len(batch) for batch in self.calls)


def _matches(metadata: dict[str, Any], record_id: str, where: dict[str, list[str]]) -> bool:
    values = {**metadata, "id": record_id}
    return all(str(values.get(key)) in allowed for key, allowed in where.items())


class MemoryVectorStore:
    """A ``VectorStore`` in dicts (vector search only)."""

    name = "memory"
    supports_text_search = False

    def __init__(self) -> None:
        self.collections: dict[str, tuple[CollectionInfo, dict[str, VectorRecord]]] = {}
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def create_collection(self, name: str, dimension: int, embedding: str) -> CollectionInfo:
        if name not in self.collections:
            self.collections[name] = (CollectionInfo(name, dimension, embedding), {})
        info = self.collections[name][0]
        if (info.dimension, info.embedding) != (dimension, embedding):
            raise CollectionMismatch(
                name, f"{info.embedding}, {info.dimension} dims", f"{embedding}, {dimension} dims"
            )
        return info

    async def collection_info(self, name: str) -> CollectionInfo | None:
        if name not in self.collections:
            return None
        info, records = self.collections[name]
        return CollectionInfo(name, info.dimension, info.embedding, len(records))

    async def list_collections(self) -> list[str]:
        return sorted(self.collections)

    async def drop_collection(self, name: str) -> None:
        self.collections.pop(name, None)

    async def upsert(self, collection: str, records: Sequence[VectorRecord]) -> None:
        info, stored = self.collections[collection]
        for record in records:
            if len(record.vector) != info.dimension:
                raise ValueError("wrong dimension")
            stored[record.id] = record

    async def delete(self, collection: str, where: Any) -> int:
        normal = check_filter(where)
        if not normal:
            raise ValueError("delete needs a filter")
        stored = self.collections.get(collection, (None, {}))[1]
        gone = [key for key, record in stored.items() if _matches(record.metadata, key, normal)]
        for key in gone:
            del stored[key]
        return len(gone)

    async def get(
        self, collection: str, where: Any = None, *, limit: int | None = None, with_vectors: bool = False
    ):
        normal = check_filter(where)
        stored = self.collections.get(collection, (None, {}))[1]
        found = [record for key, record in stored.items() if _matches(record.metadata, key, normal)]
        return found[:limit]

    async def count(self, collection: str, where: Any = None) -> int:
        return len(await self.get(collection, where))

    async def query(
        self, collection: str, vector: Sequence[float], k: int, where: Any = None
    ) -> list[VectorHit]:
        hits = []
        for record in await self.get(collection, where):
            similarity = sum(a * b for a, b in zip(vector, record.vector))
            norm = math.sqrt(sum(a * a for a in vector) * sum(b * b for b in record.vector)) or 1.0
            distance = 1.0 - similarity / norm
            hits.append(
                VectorHit(record.id, record.text, dict(record.metadata), 1.0 - distance / 2, distance)
            )
        return sorted(hits, key=lambda hit: hit.score, reverse=True)[:k]

    async def text_query(self, collection: str, text: str, k: int, where: Any = None) -> list[VectorHit]:
        raise NotImplementedError


class RagTestPlugin:
    """Registers the given embedding functions and vector stores."""

    __name__ = "rag_test_plugin"

    def __init__(self, functions: Sequence[Any] = (), stores: Sequence[Any] = ()) -> None:
        self.functions = list(functions)
        self.stores = list(stores)

    @hookimpl
    def register_embedding_functions(self, host: Any) -> list[Any]:
        return self.functions

    @hookimpl
    def register_vector_stores(self, host: Any) -> list[Any]:
        return self.stores


# -- documents and uploads ---------------------------------------------------------------------------

BOUNDARY = "rag-test-boundary-51c2"


async def upload(client: Any, headers: dict[str, str], filename: str, data: bytes, content_type: str) -> dict:
    """Upload through ``POST /api/v1/files/``; returns the file record."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = await client.post(
        "/api/v1/files/",
        data=body,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


def docx_bytes(*paragraphs: str) -> bytes:
    """A minimal DOCX: a zip holding ``word/document.xml`` with one paragraph per argument."""
    import io
    import zipfile
    from xml.sax.saxutils import escape

    namespace = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{escape(text)}</w:t></w:r></w:p>" for text in paragraphs)
    document = f'<?xml version="1.0"?><w:document xmlns:w="{namespace}"><w:body>{body}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def pdf_bytes(*pages: str) -> bytes:
    """A minimal PDF with one line of Helvetica text per page (written by hand, so no library is needed)."""
    objects: list[bytes] = []
    count = len(pages)
    kids = " ".join(f"{3 + 2 * index} 0 R" for index in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    font_number = 3 + 2 * count
    for index, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * index} 0 R "
            f"/Resources << /Font << /F1 {font_number} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


async def completions_app(rag_app: Any, fake_upstream: Any, **rag_config: Any) -> tuple[Any, Any]:
    """``(app, fake)``: ``rag`` with files, openai, completions and models, chatting and embedding (word
    vectors) through one fake OpenAI upstream, every model open to every user."""
    fake = await fake_upstream("openai")
    fake.app.control.embed = word_vector
    connection = {"base_url": fake.base_url + "/v1", "api_key": "sk-upstream"}
    app = await rag_app(
        {"embedding_function": "openai", "embedding_model": "text-embedding-3-small", **rag_config},
        functions=[],
        load_plugins=["files", "openai", "completions", "models"],
        extra_config={
            "openai": {"connections": [connection]},
            "completions": {"bypass_model_access_control": True},
        },
    )
    return app, fake
