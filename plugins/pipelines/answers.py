"""What a pipe returns, as OpenAI chat-completions answers; and the arguments a pipe is called with.

A Pipelines ``pipe()`` returns a string, a dict (an OpenAI answer, passed through) or a generator whose
items are strings (content pieces) or OpenAI ``chat.completion.chunk`` dicts. Streams become chunks
as the items arrive, closed by a ``finish_reason: "stop"`` chunk; a whole answer is the joined text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any


def user_dict(actor: Any) -> dict[str, Any]:
    """The ``user`` a pipeline receives: ``{id, email, name, role}``."""
    if actor is None:
        return {}
    return {
        "id": actor.id,
        "email": getattr(actor, "email", None),
        "name": getattr(actor, "name", None),
        "role": getattr(actor, "role", None),
    }


def last_user_message(messages: Any) -> str:
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [part for part in content if isinstance(part, dict) and part.get("type") == "text"]
                return " ".join(str(part.get("text", "")) for part in texts)
    return ""


def pipe_args(body: dict[str, Any], sub_id: str) -> dict[str, Any]:
    """``pipe(user_message, model_id, messages, body)``'s arguments for the request ``body``."""
    return {
        "user_message": last_user_message(body.get("messages")),
        "model_id": sub_id,
        "messages": body.get("messages") or [],
        "body": body,
    }


def _base(model: str, kind: str) -> dict[str, Any]:
    return {"id": f"{model}-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()), "model": model}


def chunk(model: str, content: str | None, finish_reason: str | None = None) -> dict[str, Any]:
    delta = {"role": "assistant", "content": content} if content is not None else {}
    return {
        **_base(model, "chat.completion.chunk"),
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def completion(model: str, content: str) -> dict[str, Any]:
    return {
        **_base(model, "chat.completion"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }


def is_chunk(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("choices"), list)


def text_of(item: Any) -> str:
    """The content an item adds: a string itself, or a chunk's (or answer's) text."""
    if isinstance(item, str):
        return item
    if is_chunk(item):
        parts = []
        for choice in item["choices"]:
            if isinstance(choice, dict):
                piece = (choice.get("delta") or choice.get("message") or {}).get("content")
                if isinstance(piece, str):
                    parts.append(piece)
        return "".join(parts)
    return "" if item is None else str(item)


async def as_chunks(kind: str, value: Any, model: str) -> AsyncIterator[dict[str, Any]]:
    """A pipe's answer as a stream of chunks ending with ``finish_reason: "stop"``.

    Closing it early closes the pipe's stream too (the worker then stops the generator).
    """
    try:
        async for item in _chunks(kind, value, model):
            yield item
    finally:
        if kind == "stream":
            await value.aclose()


async def _chunks(kind: str, value: Any, model: str) -> AsyncIterator[dict[str, Any]]:
    if kind == "value":
        if is_chunk(value) and value.get("object") == "chat.completion.chunk":
            yield value
        elif text_of(value):
            yield chunk(model, text_of(value))
    else:
        stopped = False
        async for item in value:
            if is_chunk(item):
                stopped = stopped or any(
                    isinstance(choice, dict) and choice.get("finish_reason") for choice in item["choices"]
                )
                yield {**item, "model": item.get("model") or model}
            elif item is not None and not isinstance(item, dict):
                piece = text_of(item)
                if piece:
                    yield chunk(model, piece)
        if stopped:
            return
    yield chunk(model, None, "stop")


async def as_completion(kind: str, value: Any, model: str) -> dict[str, Any]:
    """A pipe's answer as one ``chat.completion``."""
    if kind == "value":
        if is_chunk(value) and value.get("object") == "chat.completion":
            return value
        return completion(model, text_of(value))
    try:
        pieces = [text_of(item) async for item in value if is_chunk(item) or not isinstance(item, dict)]
    finally:
        await value.aclose()
    return completion(model, "".join(pieces))
