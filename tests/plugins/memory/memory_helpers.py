"""Helpers for the memory tests: content-aware embeddings for the fake OpenAI upstream.

``word_vector`` hashes each word into one of 64 buckets (a bag of words, L2-normalised), so texts
sharing words are near each other and searches behave meaningfully without any model.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from colonnade.plugins.rag.service import rag_service

WORD = re.compile(r"[a-z0-9]+")


def word_vector(text: str, dimension: int = 64) -> list[float]:
    vector = [0.0] * dimension
    for word in WORD.findall(text.lower()):
        bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big") % dimension
        vector[bucket] += 1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def embedded_texts(fake: Any) -> list[str]:
    """Every text the fake upstream was asked to embed, in order."""
    texts: list[str] = []
    for request in fake.requests:
        if request.path == "/v1/embeddings":
            inputs = request.json()["input"]
            texts.extend([inputs] if isinstance(inputs, str) else inputs)
    return texts


def sent_messages(fake: Any) -> list[dict]:
    """The messages of the last chat completion the fake upstream received."""
    chats = [request for request in fake.requests if request.path == "/v1/chat/completions"]
    return chats[-1].json()["messages"]


async def user_id(env: Any, headers: dict[str, str]) -> str:
    """The id of the user ``headers`` sign in."""
    response = await env.client.get("/api/v1/auths/", headers=headers)
    return (await response.get_json())["id"]


async def add(
    env: Any, headers: dict[str, str], content: str, prefix: str = "/api/v1/memories/add", **extra: Any
) -> dict:
    """Add a memory through HTTP; returns it."""
    response = await env.client.post(prefix, json={"content": content, **extra}, headers=headers)
    assert response.status_code in (200, 201), await response.get_data()
    return await response.get_json()


async def stored_vectors(env: Any, owner: str) -> dict[str, str]:
    """``{memory id: text}`` in the owner's collection."""
    rag = rag_service(env.app.extensions["colonnade"])
    return {record.id: record.text for record in await rag.store.get("user-memory-" + owner)}
