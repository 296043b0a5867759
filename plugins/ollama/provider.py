"""The ``ollama`` LLM provider: Ollama models through ``/api/chat/completions`` in OpenAI's format.

It lists the same merged models as ``/ollama/api/tags`` (Open WebUI's model dicts with
``owned_by: "ollama"`` and the raw tag entry under ``ollama``) and answers a chat-completions request by
translating it to ``/api/chat`` on the upstream serving the model (see ``translate.py``); streams are
translated line by line as they arrive.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError
from colonnade.plugins.ollama.relay import UpstreamStream, open_stream
from colonnade.plugins.ollama.translate import (
    ChunkWriter,
    TranslationError,
    ollama_chat_body,
    openai_completion,
)
from colonnade.plugins.ollama.upstreams import Upstreams, model_not_found, upstreams_of

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host


def provider_error(error: ApiError, upstream: str | None = None) -> Exception:
    from colonnade.plugins.completions.providers import ProviderError

    return ProviderError(error.status, error.detail, upstream)


class OllamaProvider:
    """Implements ``colonnade.plugins.completions.providers.LLMProvider``."""

    name = "ollama"

    def __init__(self, host: Host) -> None:
        self.host = host

    @property
    def upstreams(self) -> Upstreams:
        return upstreams_of(self.host)

    async def may_use(self, actor: Actor | None, model: str) -> bool:
        return actor is None or await self.host.check_permission(actor, "ollama.use", model)

    async def list_models(self, actor: Actor | None) -> list[dict[str, Any]]:
        registry = self.upstreams
        if not registry.config.enable or not registry.all:
            return []
        try:
            entries = await registry.merged_tags()
        except ApiError as error:
            raise provider_error(error) from None
        created = int(time.time())
        return [
            {
                "id": entry["name"],
                "name": entry["name"],
                "object": "model",
                "created": created,
                "owned_by": "ollama",
                "connection_type": "local",
                "ollama": entry,
                "tags": [],
            }
            for entry in entries
            if await self.may_use(actor, entry["name"])
        ]

    async def complete(
        self, request: dict[str, Any], actor: Actor
    ) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        registry = self.upstreams
        model = request.get("model")
        if not registry.config.enable:
            raise provider_error(ApiError(503, "The Ollama API is disabled"))
        try:
            upstream, local = await registry.resolve(model)
            if not await self.may_use(actor, model):
                raise model_not_found(model)
        except ApiError as error:
            raise provider_error(error) from None
        try:
            body = ollama_chat_body(request, local)
        except TranslationError as error:
            raise provider_error(ApiError(400, f"Invalid request for an Ollama model: {error}")) from None
        if not body["stream"]:
            try:
                answer = await upstream.request_json("POST", "/api/chat", body)
            except ApiError as error:
                raise provider_error(error, upstream.label) from None
            if not isinstance(answer, dict) or not isinstance(answer.get("message"), dict):
                raise provider_error(ApiError(502, f"{upstream.label} sent an answer without 'message'"))
            return openai_completion(answer, model)
        try:
            stream, first = await open_stream(upstream, "/api/chat", body)
        except ApiError as error:
            raise provider_error(error, upstream.label) from None
        return self._chunks(stream, json.loads(first), model)

    async def _chunks(
        self, stream: UpstreamStream, first: dict[str, Any], model: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Translate as lines arrive. Closing this generator (the client left) closes the upstream
        response, which stops the generation there."""
        writer = ChunkWriter(model)
        label = stream.upstream.label
        try:
            line: dict[str, Any] | None = first
            while line is not None:
                if isinstance(line.get("error"), str):
                    raise provider_error(ApiError(502, f"{label}: {line['error']}"), label)
                for chunk in writer.chunks(line):
                    yield chunk
                if stream.done:
                    return
                try:
                    item = await stream.next_object()
                except ApiError as error:
                    raise provider_error(error, label) from None
                line = item[0] if item is not None else None
            raise provider_error(ApiError(502, f"{label} ended the stream before it was done"), label)
        finally:
            await stream.aclose()
