"""A scripted LLM provider for the completions tests (what a provider plugin implements)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from colonnade import hookimpl
from colonnade.plugins.completions.providers import ProviderError


def model(model_id: str, owned_by: str = "openai") -> dict[str, Any]:
    return {"id": model_id, "name": model_id.title(), "object": "model", "created": 1, "owned_by": owned_by}


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class Provider:
    """Lists ``models``; answers with ``reply`` (words streamed one chunk each), or fails as told.

    :param fail: A ``ProviderError`` raised by ``complete`` itself.
    :param fail_after: Raise this ``ProviderError`` after that many chunks of a stream.
    :param hang_after: Stop after that many chunks and wait forever (until the stream is closed).
    """

    def __init__(
        self,
        name: str = "echo",
        models: list[str] = ("echo-1",),
        reply: str = "Hello from the provider",
        *,
        fail: ProviderError | None = None,
        fail_after: tuple[int, ProviderError] | None = None,
        hang_after: int | None = None,
        streams: bool = True,
    ) -> None:
        self.name = name
        self.models = [model(m) for m in models]
        self.reply = reply
        self.fail = fail
        self.fail_after = fail_after
        self.hang_after = hang_after
        self.streams = streams
        self.requests: list[dict[str, Any]] = []
        self.list_calls = 0
        self.closed = asyncio.Event()

    async def list_models(self, actor: Any) -> list[dict[str, Any]]:
        self.list_calls += 1
        return list(self.models)

    async def complete(self, request: dict[str, Any], actor: Any) -> Any:
        self.requests.append(request)
        if self.fail is not None:
            raise self.fail
        if request.get("stream") and self.streams:
            return self._stream()
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": request["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5},
        }

    async def _stream(self) -> Any:
        words = self.reply.split(" ")
        try:
            yield chunk(role="assistant")
            for number, word in enumerate(words):
                if self.fail_after and number == self.fail_after[0]:
                    raise self.fail_after[1]
                if self.hang_after is not None and number == self.hang_after:
                    await asyncio.Event().wait()
                yield chunk(word if number == 0 else f" {word}")
            yield chunk(finish="stop")
        finally:
            self.closed.set()


class Scripted:
    """A plugin registering the given providers."""

    __name__ = "scripted_providers"

    def __init__(self, *providers: Any) -> None:
        self.providers = providers

    @hookimpl
    def register_llm_providers(self, host: Any) -> list[Any]:
        return list(self.providers)
