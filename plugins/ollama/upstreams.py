"""The configured Ollama servers: their pooled clients, their models, and which one serves a model.

Every failure talking to a server becomes an :class:`~colonnade.errors.ApiError` whose detail names the
server by its configured ``name`` (never its URL or key): unreachable is 502, a timeout 504, a 4xx
answer keeps its status and the server's own ``error`` text, anything else is 502.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from colonnade.errors import ApiError

# httpx is imported where it is used: a server with no upstream configured never loads it.
if TYPE_CHECKING:
    import httpx
    from colonnade.host import Host
    from colonnade.plugins.ollama.config import OllamaConfig, OllamaUpstream

log = logging.getLogger("colonnade.ollama")

#: Largest upstream error body read to find its message: errors are short, a broken proxy may not be.
ERROR_BODY_LIMIT = 64 * 1024


def model_not_found(model: str) -> ApiError:
    return ApiError(404, f"Model '{model}' was not found")


@dataclass
class Upstream:
    """One configured Ollama server and its pooled client."""

    index: int
    name: str
    prefix_id: str | None
    model_ids: frozenset[str]
    client: httpx.AsyncClient
    #: The API key, only to blank it out of upstream error messages that echo it.
    secret: str | None = field(default=None, repr=False)
    #: ``(monotonic expiry, tag entries)`` of the last successful ``/api/tags``.
    cached: tuple[float, list[dict[str, Any]]] | None = None
    #: The ``/api/tags`` request in flight, shared by concurrent callers.
    fetching: asyncio.Future[list[dict[str, Any]]] | None = None

    @property
    def label(self) -> str:
        return f"Ollama upstream '{self.name}'"

    def publish(self, model: str) -> str:
        """The id clients use for upstream model ``model``."""
        return f"{self.prefix_id}.{model}" if self.prefix_id else model

    def local_name(self, published: str) -> str | None:
        """The upstream's own name for ``published``, or ``None`` when the prefix does not match."""
        if not self.prefix_id:
            return published
        prefix = f"{self.prefix_id}."
        return published[len(prefix) :] if published.startswith(prefix) else None

    def transport_error(self, error: httpx.HTTPError) -> ApiError:
        """502 (or 504 for a timeout) naming this upstream; the exception type says what failed."""
        import httpx
        if isinstance(error, httpx.TimeoutException):
            return ApiError(504, f"{self.label} timed out ({type(error).__name__})")
        return ApiError(502, f"{self.label} is unreachable ({type(error).__name__})")

    async def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Send a request and return the open (streaming) response once it answered 2xx.

        The caller must ``aclose()`` the response. A failure raises :class:`ApiError`.
        """
        import httpx
        request = self.client.build_request(method, path, json=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as error:
            raise self.transport_error(error) from None
        if response.status_code < 400:
            return response
        try:
            raw = await read_limited(response, ERROR_BODY_LIMIT)
        except httpx.HTTPError as error:
            raise self.transport_error(error) from None
        finally:
            await response.aclose()
        raise self.status_error(response.status_code, raw)

    def status_error(self, status: int, raw: bytes) -> ApiError:
        message = error_message(raw)
        if self.secret:
            message = message.replace(self.secret, "***")
        detail = f"{self.label}: {message}" if message else f"{self.label} answered HTTP {status}"
        # A 4xx is the client's to fix (unknown model, bad option), so it passes through; any other
        # status means the upstream failed, which to our client is a bad gateway.
        return ApiError(status if 400 <= status < 500 else 502, detail)

    async def request_json(self, method: str, path: str, body: Any = None) -> Any:
        """A whole JSON answer (for small, non-streamed calls)."""
        import httpx
        response = await self.send(method, path, body)
        try:
            raw = await response.aread()
        except httpx.HTTPError as error:
            raise self.transport_error(error) from None
        finally:
            await response.aclose()
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(502, f"{self.label} sent a body that is not JSON") from None

    async def tags(self, ttl: float, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The server's ``/api/tags`` entries (filtered by ``model_ids``), cached ``ttl`` seconds.

        Concurrent callers share one request in flight rather than queueing behind a lock: a server
        that hangs then costs each of them one timeout, not one each in turn.
        """
        if not refresh and self.cached is not None and self.cached[0] > time.monotonic():
            return self.cached[1]
        if self.fetching is None:
            self.fetching = asyncio.ensure_future(self._fetch_tags(ttl))
            self.fetching.add_done_callback(self._fetched)
        return await asyncio.shield(self.fetching)

    def _fetched(self, task: asyncio.Future[Any]) -> None:
        self.fetching = None
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited any more is not logged as lost

    async def _fetch_tags(self, ttl: float) -> list[dict[str, Any]]:
        data = await self.request_json("GET", "/api/tags")
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise ApiError(502, f"{self.label} sent a model list without 'models'")
        entries = [
            entry
            for entry in models
            if isinstance(entry, dict)
            and isinstance(entry.get("name") or entry.get("model"), str)
            and (not self.model_ids or model_name(entry) in self.model_ids)
        ]
        if ttl > 0:
            self.cached = (time.monotonic() + ttl, entries)
        return entries


def model_name(entry: dict[str, Any]) -> str:
    return entry.get("name") or entry["model"]


def same_model(requested: str, available: str) -> bool:
    """Ollama treats ``llama3`` as ``llama3:latest``."""
    if requested == available:
        return True
    return ":" not in requested and available == f"{requested}:latest"


async def read_limited(response: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])


def error_message(raw: bytes) -> str:
    """Ollama answers errors as ``{"error": "..."}``; anything else is summarised, not echoed whole."""
    try:
        data = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()
        return text[:300]
    if isinstance(data, dict):
        error = data.get("error") or data.get("detail")
        if isinstance(error, dict):
            error = error.get("message")
        if isinstance(error, str):
            return error[:1000]
    return ""


class Upstreams:
    """Every configured server, built once per application (``host.state("ollama").upstreams``)."""

    def __init__(self, host: Host, config: OllamaConfig) -> None:
        self.config = config
        self.all: list[Upstream] = [
            self._build(host, index, upstream) for index, upstream in enumerate(config.upstreams)
        ]

    @staticmethod
    def _build(host: Host, index: int, config: OllamaUpstream) -> Upstream:
        import httpx
        name = config.name or str(index)
        headers = {}
        secret = config.api_key.get_secret_value() if config.api_key is not None else None
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        base_url = host.upstream_url(f"ollama.{name}", config.base_url)
        client = host.http_client(
            f"ollama.{name}",
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
        )
        return Upstream(index, name, config.prefix_id, frozenset(config.model_ids), client, secret)

    def by_index(self, index: int) -> Upstream:
        if not 0 <= index < len(self.all):
            raise ApiError(404, f"No Ollama upstream has index {index}")
        return self.all[index]

    def forget_models(self) -> None:
        """Drop every cached model list (after a pull, say)."""
        for upstream in self.all:
            upstream.cached = None

    async def listings(
        self, *, refresh: bool = False
    ) -> list[tuple[Upstream, list[dict[str, Any]] | ApiError]]:
        """Every upstream's models, fetched concurrently; a failing upstream gives its error instead."""

        async def one(upstream: Upstream) -> list[dict[str, Any]] | ApiError:
            try:
                return await upstream.tags(self.config.models_cache_ttl, refresh=refresh)
            except ApiError as error:
                log.warning("%s could not list its models: %s", upstream.label, error.detail)
                return error

        results = await asyncio.gather(*(one(upstream) for upstream in self.all))
        return list(zip(self.all, results))

    async def merged_tags(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """``/api/tags`` entries of every reachable upstream, merged by published name.

        Each entry carries ``urls``: the indexes of the upstreams serving it. When every upstream
        failed, the first failure is raised: an empty list would hide the outage.
        """
        merged: dict[str, dict[str, Any]] = {}
        failures = []
        for upstream, result in await self.listings(refresh=refresh):
            if isinstance(result, ApiError):
                failures.append(result)
                continue
            for entry in result:
                published = upstream.publish(model_name(entry))
                if published in merged:
                    merged[published]["urls"].append(upstream.index)
                    continue
                merged[published] = {
                    **entry,
                    "name": published,
                    "model": published,
                    "urls": [upstream.index],
                    "connection_type": "local",
                }
        if failures and len(failures) == len(self.all):
            raise failures[0]
        return list(merged.values())

    async def resolve(self, model: Any, *, only: Upstream | None = None) -> tuple[Upstream, str]:
        """The upstream that serves published model id ``model`` and its name there.

        Several upstreams serving the model share the load at random (as Open WebUI does). An unknown
        model is 404, unless an upstream that might serve it could not be asked: then its error.
        """
        if not isinstance(model, str) or not model:
            raise ApiError(422, "Invalid request: 'model' must be a non-empty string")
        candidates: list[tuple[Upstream, str]] = []
        failures: list[ApiError] = []
        for upstream in [only] if only is not None else self.all:
            local = upstream.local_name(model)
            if local is None:
                continue
            try:
                entries = await upstream.tags(self.config.models_cache_ttl)
            except ApiError as error:
                failures.append(error)
                continue
            for entry in entries:
                if same_model(local, model_name(entry)):
                    candidates.append((upstream, model_name(entry)))
                    break
        if candidates:
            return random.choice(candidates)
        if failures:
            raise failures[0]
        raise model_not_found(model)


def upstreams_of(host: Host) -> Upstreams:
    """The application's :class:`Upstreams`, built on first use (by a route or the LLM provider,
    whichever comes first: the completions plugin may list models before our ``startup`` ran)."""
    state = host.state("ollama")
    registry = getattr(state, "upstreams", None)
    if registry is None:
        registry = state.upstreams = Upstreams(host, host.plugin_config("ollama"))
    return registry
