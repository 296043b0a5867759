"""Converting between OpenAI's two answer shapes: ``chat.completion`` and a stream of chunks.

The feature needs both directions: a streaming request may meet a provider that only answers whole
(one chunk is made of it), and the outlet hooks and the saved chat want the whole answer of a stream
(the chunks are re-assembled as they pass, without holding them back).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any


class Assembler:
    """Re-assembles ``chat.completion.chunk`` dicts into one ``chat.completion`` dict as they pass."""

    def __init__(self, model: str) -> None:
        self.id = ""
        self.model = model
        self.created = 0
        self.usage: dict[str, Any] | None = None
        self.choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: Any) -> None:
        if not isinstance(chunk, dict):
            return
        self.id = self.id or str(chunk.get("id") or "")
        self.model = chunk.get("model") or self.model
        self.created = self.created or int(chunk.get("created") or 0)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            index = int(choice.get("index") or 0)
            into = self.choices.setdefault(
                index,
                {"index": index, "message": {"role": "assistant", "content": ""}, "finish_reason": None},
            )
            delta = choice.get("delta") or {}
            message = into["message"]
            for key in ("content", "reasoning_content"):
                if isinstance(delta.get(key), str):
                    message[key] = (message.get(key) or "") + delta[key]
            for call in delta.get("tool_calls") or ():
                _merge_tool_call(message.setdefault("tool_calls", []), call)
            if choice.get("finish_reason"):
                into["finish_reason"] = choice["finish_reason"]

    @property
    def content(self) -> str:
        first = self.choices.get(0)
        return first["message"].get("content") or "" if first else ""

    def response(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id or "chatcmpl-assembled",
            "object": "chat.completion",
            "created": self.created or int(time.time()),
            "model": self.model,
            "choices": [self.choices[index] for index in sorted(self.choices)]
            or [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
        if self.usage is not None:
            result["usage"] = self.usage
        return result


def _merge_tool_call(calls: list[dict[str, Any]], delta: Any) -> None:
    """Tool calls stream in pieces keyed by ``index``: the first names the call, the rest add arguments."""
    if not isinstance(delta, dict):
        return
    index = delta.get("index", len(calls))
    for call in calls:
        if call.get("index") == index:
            function = call.setdefault("function", {"name": "", "arguments": ""})
            piece = delta.get("function") or {}
            function["name"] = function.get("name") or piece.get("name") or ""
            function["arguments"] = (function.get("arguments") or "") + (piece.get("arguments") or "")
            return
    piece = delta.get("function") or {}
    calls.append(
        {
            "index": index,
            "id": delta.get("id"),
            "type": delta.get("type") or "function",
            "function": {"name": piece.get("name") or "", "arguments": piece.get("arguments") or ""},
        }
    )


def content_of(response: Any) -> str:
    """The first choice's text of a ``chat.completion`` dict (``""`` when there is none)."""
    try:
        return response["choices"][0]["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


async def chunks_of(response: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """One ``chat.completion.chunk`` carrying a whole ``chat.completion`` (for providers that never stream)."""
    choices = []
    for choice in response.get("choices") or ():
        message = dict(choice.get("message") or {})
        message.setdefault("role", "assistant")
        choices.append(
            {"index": choice.get("index", 0), "delta": message, "finish_reason": choice.get("finish_reason")}
        )
    chunk = {
        "id": response.get("id") or "chatcmpl",
        "object": "chat.completion.chunk",
        "created": response.get("created") or int(time.time()),
        "model": response.get("model"),
        "choices": choices,
    }
    if response.get("usage") is not None:
        chunk["usage"] = response["usage"]
    yield chunk


async def assemble(chunks: AsyncIterator[dict[str, Any]], model: str) -> dict[str, Any]:
    """Drain a stream into one ``chat.completion`` (for a provider that streamed a non-stream request)."""
    assembler = Assembler(model)
    try:
        async for chunk in chunks:
            assembler.add(chunk)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    return assembler.response()
