"""The contract between the ``completions`` feature and LLM providers (the module provider authors import).

A provider is any object with a ``name`` and two async methods; ``register_llm_providers`` hands them to
the feature. Requests and responses are OpenAI's chat-completions format as plain dicts, so a provider
for an OpenAI-compatible upstream relays them nearly untouched, and others (Ollama) translate.

Also here: :class:`ProviderError`, which providers raise for upstream failures, and
:class:`CompletionContext` / :class:`CompletionRejected`, which the runtime hooks receive and raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from colonnade.actors import Actor


@runtime_checkable
class LLMProvider(Protocol):
    """A source of chat models.

    ``name`` is the provider's unique name (usually its plugin's: ``openai``, ``ollama``, ``models``);
    it is what ``completion_route_model`` returns and what appears in logs and error details.
    """

    name: str

    async def list_models(self, actor: Actor | None) -> list[dict[str, Any]]:
        """The models this provider serves to ``actor``.

        :param actor: The user asking; ``None`` when the host asks for itself (for example to check
            that a workspace model's ``base_model_id`` exists): list everything then.
        :return: Open WebUI model dicts, each with at least ``id`` (unique across providers; apply any
            configured prefix), ``name``, ``object: "model"``, ``created`` and ``owned_by`` (the
            provider kind, ``"openai"``/``"ollama"``). Add whatever else Open WebUI shows
            (``connection_type``, ``urlIdx``, ``ollama``, ``info``...). The feature caches the list
            per provider for a few seconds, so it may be slow, but it must not hang (use timeouts).
        :raises ProviderError: the upstream failed; the merged list then leaves this provider out.
        """
        ...

    async def complete(
        self, request: dict[str, Any], actor: Actor
    ) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        """Answer one chat-completions request.

        :param request: The OpenAI request body after every ``completion_inlet`` ran: ``model`` is the
            id as listed by ``list_models``, ``messages``, ``stream`` and any other OpenAI parameter.
            Open WebUI's extra keys (``chat_id``, ``id``, ``session_id``, ``metadata``, ``features``...)
            are removed before the provider sees it.
        :param actor: The user making the request.
        :return: For ``request["stream"]`` false, an OpenAI ``chat.completion`` dict. For ``stream``
            true, an async iterator (an async generator is best) of OpenAI ``chat.completion.chunk``
            dicts, yielded as they arrive, never buffered; the feature writes the SSE framing and
            ``data: [DONE]``. When the client goes away the feature calls the iterator's ``aclose()``
            (an async generator gets ``GeneratorExit`` at its ``yield``); release the upstream
            request then (``async with client.stream(...)`` does).
        :raises ProviderError: the upstream failed (before or during the stream). Raise it from
            ``complete`` itself where you can (connection refused, an upstream 4xx/5xx before the first
            chunk) so the client gets a proper status; once chunks are flowing the feature can only
            end the stream with an error event.
        """
        ...


class ProviderError(Exception):
    """An upstream failure, turned by the feature into ``{"detail": ...}`` with ``status``.

    :param status: The status for the client: 502 (unreachable, bad answer, upstream 5xx), 504
        (timeout), or the upstream's own 4xx when the request itself was at fault.
    :param detail: Human-readable, naming what failed; never include API keys.
    :param upstream: Which upstream failed (a connection name or base URL without credentials).
    """

    def __init__(self, status: int, detail: str, upstream: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.upstream = upstream

    def __str__(self) -> str:
        if self.upstream and self.upstream not in self.detail:
            return f"{self.upstream}: {self.detail}"
        return self.detail


class CompletionRejected(Exception):
    """Raised by a ``completion_inlet`` to refuse a request: the client gets ``status`` and ``detail``.

    :param detail: Human-readable reason.
    :param status: A 4xx status; 400 by default.
    """

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass
class CompletionContext:
    """One completion request as it moves through the pipeline; the runtime hooks receive it.

    :param request: The OpenAI request body (a dict); inlets change it in place.
    :param actor: The user making the request.
    :param model_id: The requested model id (``request["model"]`` as it arrived).
    :param provider: The name of the provider routing chose; an inlet may change it.
    :param stream: Whether the client asked for a stream.
    :param chat_id: The caller's chat the exchange is saved to, or ``None``.
    :param model: The model's entry from its provider's list (``{}`` if routing did not list it).
    :param metadata: Free space for plugins to share state between their inlet, wrapper and outlet,
        plus Open WebUI's request ``metadata`` and extra keys (``chat_id``, ``message_id``,
        ``session_id``, ``features``...) taken out of the request before the provider sees it.
    """

    request: dict[str, Any]
    actor: Actor
    model_id: str
    provider: str
    stream: bool = False
    chat_id: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
