"""The set of upstreams: the merged model list, and which upstream answers a model id.

Model lists are fetched from every upstream at once, each with its own timeout, and reused for
``models_cache_ttl`` seconds; an upstream that fails is left out of the list (and logged by name) while
the others still answer. Routing uses the same lists, so a model id is answered by the upstream that
listed it, under the id that upstream knows (the prefix stripped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from colonnade.plugins.openai.upstreams import Upstream, UpstreamError

if TYPE_CHECKING:
    from colonnade.actors import Actor
    from colonnade.host import Host
    from colonnade.plugins.openai.config import OpenAIConfig

log = logging.getLogger("colonnade.openai")

#: The permission action checked per model for non-admins (``resource`` is the public model id).
USE_ACTION = "openai.use"
#: Seconds between two re-fetches of a model list caused by a request for an id it lacks.
MIN_REFRESH_INTERVAL = 5.0


class OpenAIService:
    """Everything the routes and the LLM provider share; one per application (``host.state("openai")``)."""

    def __init__(self, host: Host, config: OpenAIConfig) -> None:
        self.host = host
        self.config = config
        self.upstreams: list[Upstream] = []
        for index, connection in enumerate(config.connections):
            if not (config.enable and connection.enable):
                continue
            import httpx  # here: a server with no connection never loads it

            name = connection.name or str(index)
            timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
            # Every open stream holds a connection: allow many more than the host's default of 100.
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
            client = host.http_client(f"openai.{name}", timeout=timeout, limits=limits)
            base_url = host.upstream_url(f"openai.{name}", connection.base_url) or connection.base_url
            self.upstreams.append(Upstream(index, connection, client, base_url))
        self._locks = {upstream.index: asyncio.Lock() for upstream in self.upstreams}

    def by_index(self, index: int) -> Upstream | None:
        return next((upstream for upstream in self.upstreams if upstream.index == index), None)

    def connection_for(self, name: str | None, purpose: str) -> Upstream:
        """The upstream named ``name`` (``None``: the first enabled one) for an engine; 503 if there is none.

        :param purpose: What the engine does ("speech"), for the error detail.
        """
        chosen = [upstream for upstream in self.upstreams if name is None or upstream.name == name]
        if not chosen:
            reason = "the OpenAI plugin is disabled" if not self.config.enable else "none is configured"
            raise UpstreamError(503, f"No OpenAI connection is available for {purpose}: {reason}")
        return chosen[0]

    # -- model lists -----------------------------------------------------------------------------

    async def raw_models(self, upstream: Upstream, *, refresh: bool = False) -> list[dict[str, Any]]:
        """One upstream's raw entries, fetched or from the cache; raises :class:`UpstreamError`."""
        ttl = self.config.models_cache_ttl
        async with self._locks[upstream.index]:
            cached = upstream.cached
            if cached is not None and not refresh and time.monotonic() - cached[0] < ttl:
                return cached[1]
            try:
                entries = await upstream.fetch_models(self.config)
            except UpstreamError as error:
                upstream.last_error = error
                upstream.cached = None
                log.warning("model list unavailable: %s", error.detail)
                raise
            upstream.cached = (time.monotonic(), entries)
            upstream.last_error = None
            return entries

    async def models(
        self, upstreams: list[Upstream] | None = None, *, refresh: bool = False
    ) -> list[dict[str, Any]]:
        """Open WebUI model dicts of every (or the given) upstream; failing upstreams are left out."""
        chosen = self.upstreams if upstreams is None else upstreams

        async def listed(upstream: Upstream) -> list[dict[str, Any]]:
            try:
                return [upstream.model_entry(raw) for raw in await self.raw_models(upstream, refresh=refresh)]
            except UpstreamError:
                return []

        merged: dict[str, dict[str, Any]] = {}
        for entries in await asyncio.gather(*(listed(upstream) for upstream in chosen)):
            for entry in entries:
                merged.setdefault(entry["id"], entry)  # the first connection listing an id answers it
        return list(merged.values())

    async def visible(self, actor: Actor, models: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The models ``actor`` may use: admins see every one; others those ``openai.use`` allows."""
        if actor.is_admin:
            return models
        return [model for model in models if await self.host.check_permission(actor, USE_ACTION, model["id"])]

    # -- routing ---------------------------------------------------------------------------------

    async def resolve(self, model_id: Any, actor: Actor | None) -> tuple[Upstream, str]:
        """The upstream answering ``model_id`` and the id it knows the model by.

        Unknown (or not allowed) ids are 404. When the upstream that would carry the id could not
        list its models, the request goes to it anyway, so that the client learns which upstream is
        down (a 502/504 naming it) rather than a misleading 404.
        """
        if not isinstance(model_id, str) or not model_id:
            raise UpstreamError(400, "Invalid request: model: a model id (string) is required")
        allowed = (
            actor is None or actor.is_admin or await self.host.check_permission(actor, USE_ACTION, model_id)
        )
        if not allowed:
            raise UpstreamError(404, f"Model '{model_id}' was not found")
        candidates = [(upstream, upstream.upstream_id(model_id)) for upstream in self.upstreams]
        candidates = [(upstream, own) for upstream, own in candidates if own is not None]
        unavailable: list[tuple[Upstream, str]] = []
        for upstream, own in candidates:
            try:
                entries = await self.raw_models(upstream)
            except UpstreamError:
                unavailable.append((upstream, own))
                continue
            if any(entry["id"] == own for entry in entries):
                return upstream, own
        # A model added upstream since the list was cached: ask again, at most every few seconds so that
        # requests for unknown ids cannot make every request a model-list fetch.
        for upstream, own in candidates:
            cached = upstream.cached
            if cached is None or time.monotonic() - cached[0] < MIN_REFRESH_INTERVAL:
                continue
            try:
                entries = await self.raw_models(upstream, refresh=True)
            except UpstreamError:
                unavailable.append((upstream, own))
                continue
            if any(entry["id"] == own for entry in entries):
                return upstream, own
        if unavailable:
            return unavailable[0]
        raise UpstreamError(404, f"Model '{model_id}' was not found")


class ConnectionEngine:
    """Base of the engines that work through one OpenAI connection (speech, transcription, images).

    :param service: The plugin's service (connections and pooled clients).
    :param connection: The connection's name (``None``: the first enabled one).
    """

    name = "openai"

    def __init__(self, service: OpenAIService, connection: str | None) -> None:
        self.service = service
        self.connection = connection

    def upstream(self, purpose: str) -> Upstream:
        """The connection to use; 503 naming ``purpose`` when there is none."""
        return self.service.connection_for(self.connection, purpose)
