"""Converting between OpenAI's two answer shapes: ``chat.completion`` and a stream of chunks.

The feature needs both directions: a streaming request may meet a provider that only answers whole
(one chunk is made of it), and the outlet hooks and the saved chat want the whole answer of a stream
(the chunks are re-assembled as they pass, without holding them back).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any


class Assembler:
    """Re-assembles ``chat.completion.chunk`` dicts into one ``chat.completion`` dict as they pass.

    Text (``content``, ``reasoning_content``, a tool call's ``arguments``) is kept as the list of its
    pieces and joined once, when asked for: appending each piece to a growing string would copy the
    answer so far at every chunk, which a long answer (thousands of chunks) pays for quadratically.
    """

    def __init__(self, model: str) -> None:
        self.id = ""
        self.model = model
        self.created = 0
        self.usage: dict[str, Any] | None = None
        #: By choice index: its finish reason, text pieces by field and tool calls (arguments in pieces).
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
            into = self.choices.get(index)
            if into is None:
                into = {"finish_reason": None, "text": {"content": []}, "tool_calls": None}
                self.choices[index] = into
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = into["text"]
                for key in ("content", "reasoning_content"):
                    piece = delta.get(key)
                    if isinstance(piece, str):
                        text.setdefault(key, []).append(piece)
                for call in delta.get("tool_calls") or ():
                    if isinstance(call, dict):
                        if into["tool_calls"] is None:
                            into["tool_calls"] = []
                        _merge_tool_call(into["tool_calls"], call)
            if choice.get("finish_reason"):
                into["finish_reason"] = choice["finish_reason"]

    @property
    def content(self) -> str:
        first = self.choices.get(0)
        return "".join(first["text"]["content"]) if first else ""

    def response(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id or "chatcmpl-assembled",
            "object": "chat.completion",
            "created": self.created or int(time.time()),
            "model": self.model,
            "choices": [_assembled_choice(index, self.choices[index]) for index in sorted(self.choices)]
            or [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
        if self.usage is not None:
            result["usage"] = self.usage
        return result


def _assembled_choice(index: int, into: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    for key, pieces in into["text"].items():
        message[key] = "".join(pieces)
    if into["tool_calls"] is not None:
        message["tool_calls"] = [
            {**call, "function": {**call["function"], "arguments": "".join(call["function"]["arguments"])}}
            for call in into["tool_calls"]
        ]
    return {"index": index, "message": message, "finish_reason": into["finish_reason"]}


def _merge_tool_call(calls: list[dict[str, Any]], delta: dict[str, Any]) -> None:
    """Tool calls stream in pieces keyed by ``index``: the first names the call, the rest add arguments
    (kept as pieces in ``function.arguments``)."""
    index = delta.get("index", len(calls))
    piece = delta.get("function")
    if not isinstance(piece, dict):
        piece = {}
    arguments = piece.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        arguments = json.dumps(arguments)  # an object where OpenAI's shape has its JSON text
    for call in calls:
        if call.get("index") == index:
            function = call["function"]
            function["name"] = function["name"] or piece.get("name") or ""
            if arguments:
                function["arguments"].append(arguments)
            return
    calls.append(
        {
            "index": index,
            "id": delta.get("id"),
            "type": delta.get("type") or "function",
            "function": {"name": piece.get("name") or "", "arguments": [arguments] if arguments else []},
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
