"""The OpenAI-compatible connections as one LLM provider of the completions feature.

Imported only when the completions plugin asks for providers, so ``openai`` loads without it. The
request is already OpenAI's format, so it is forwarded nearly untouched: only the model id loses its
connection prefix. Streams are decoded chunk by chunk as the upstream sends them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from colonnade.plugins.completions.providers import ProviderError
from colonnade.plugins.openai.upstreams import UpstreamError, sse_payloads

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.plugins.openai.service import OpenAIService


def provider_error(error: UpstreamError, upstream: str | None = None) -> ProviderError:
    return ProviderError(error.status, error.detail, upstream)


class OpenAIProvider:
    """Serves every model of every enabled ``[[plugins.openai.connections]]`` entry."""

    name = "openai"

    def __init__(self, service: OpenAIService) -> None:
        self.service = service

    async def list_models(self, actor: Actor | None) -> list[dict[str, Any]]:
        models = await self.service.models()
        return models if actor is None else await self.service.visible(actor, models)

    async def complete(
        self, request: dict[str, Any], actor: Actor
    ) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        import httpx

        upstream = None
        try:
            upstream, model = await self.service.resolve(request.get("model"), actor)
            response = await upstream.send("chat/completions", {**request, "model": model}, model)
        except UpstreamError as error:
            raise provider_error(error, upstream.name if upstream else None) from None
        if "text/event-stream" in response.headers.get("content-type", ""):
            events = sse_payloads(response, upstream)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                raise ProviderError(502, f"{upstream.label} sent an empty stream", upstream.name) from None
            except UpstreamError as error:
                await events.aclose()
                raise provider_error(error, upstream.name) from None
            return self._chunks(first, events, upstream.name)
        try:
            raw = await response.aread()
            answer = json.loads(raw)
        except httpx.TimeoutException as error:
            raise provider_error(upstream.timeout_error(error), upstream.name) from None
        except (httpx.HTTPError, ValueError):
            raise ProviderError(502, f"{upstream.label} sent a malformed answer", upstream.name) from None
        finally:
            await response.aclose()
        if not isinstance(answer, dict):
            raise ProviderError(502, f"{upstream.label} sent a malformed answer", upstream.name)
        if request.get("stream"):
            return _as_chunks(answer)  # the upstream ignored ``stream``: give the feature what it asked for
        return answer

    async def _chunks(
        self, first: list[Any], events: AsyncIterator[list[Any]], upstream: str
    ) -> AsyncIterator[dict[str, Any]]:
        try:
            for chunk in first:
                yield chunk
            async for batch in events:
                for chunk in batch:
                    yield chunk
        except UpstreamError as error:
            raise provider_error(error, upstream) from None
        finally:
            await events.aclose()  # type: ignore[attr-defined]


async def _as_chunks(answer: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """A whole ``chat.completion`` as the one ``chat.completion.chunk`` it amounts to."""
    choices = [
        {
            "index": choice.get("index", 0),
            "delta": choice.get("message") or {},
            "finish_reason": choice.get("finish_reason"),
        }
        for choice in answer.get("choices") or []
    ]
    chunk = {**answer, "object": "chat.completion.chunk", "choices": choices}
    yield chunk
