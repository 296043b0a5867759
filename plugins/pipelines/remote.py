"""Remote Open WebUI Pipelines servers (``[[plugins.pipelines.servers]]``), one pooled client each.

A server lists its pipelines as models (``GET /models``, each entry carrying a ``pipeline`` object with
``type``, ``pipelines`` targets and ``priority``); pipes and manifolds answer ``POST /chat/completions``
(JSON or SSE), filters ``POST /{id}/filter/inlet`` and ``/filter/outlet``. Every request carries the
server's key as a bearer token; the key is never returned, logged or put in an error. ``httpx`` is
imported only when a server is configured.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx

    from colonnade.plugins.pipelines.config import PipelinesConfig, Server

log = logging.getLogger("colonnade.pipelines")

#: Bytes of an error body read to find its ``detail``.
ERROR_BODY_LIMIT = 64 * 1024
#: Longest SSE line accepted from a server.
LINE_LIMIT = 8 * 1024 * 1024


class RemoteError(Exception):
    """A server failed or refused: 502 unreachable or malformed, 504 timeout, else the server's status.

    :param status: The status for the client.
    :param detail: The server's ``detail`` when it sent one, else what went wrong; names the server.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class RemoteServer:
    """One configured server.

    :param index: Its position in ``servers`` (Open WebUI's ``urlIdx``).
    :param server: Its configuration.
    :param client: Its pooled ``httpx.AsyncClient``.
    """

    def __init__(self, index: int, server: Server, client: httpx.AsyncClient) -> None:
        self.index = index
        self.url = server.url
        self.client = client
        self.label = f"Pipelines server {index}"
        self._key = server.key.get_secret_value() if server.key else ""
        self._cached: tuple[float, list[dict[str, Any]]] | None = None

    @property
    def has_key(self) -> bool:
        return bool(self._key)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    # -- requests ---------------------------------------------------------------------------------

    async def send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Send and return the streaming response (the caller closes it); failures as :class:`RemoteError`."""
        import httpx

        url = f"{self.url}/{path.lstrip('/')}"
        request = self.client.build_request(method, url, headers=self.headers(), **options)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise RemoteError(504, f"{self.label} did not answer in time") from None
        except httpx.HTTPError as error:
            reason = self.redact(str(error) or type(error).__name__)
            raise RemoteError(502, f"{self.label} is unreachable: {reason}") from None
        if response.status_code >= 400:
            raise await self._status_error(response)
        return response

    async def _status_error(self, response: httpx.Response) -> RemoteError:
        import httpx

        try:
            raw = b""
            async for piece in response.aiter_bytes():
                raw += piece
                if len(raw) >= ERROR_BODY_LIMIT:
                    break
        except httpx.HTTPError:
            raw = b""
        finally:
            await response.aclose()
        detail = None
        try:
            body = json.loads(raw)
            detail = body.get("detail") if isinstance(body, dict) else None
            if detail is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
                detail = body["error"].get("message")
        except ValueError:
            pass
        text = detail if isinstance(detail, str) else f"{self.label} answered {response.status_code}"
        status = response.status_code if response.status_code < 500 else 502
        return RemoteError(status, self.redact(text))

    async def json(self, method: str, path: str, **options: Any) -> Any:
        import httpx

        response = await self.send(method, path, **options)
        try:
            return json.loads(await response.aread())
        except httpx.TimeoutException:
            raise RemoteError(504, f"{self.label} did not answer in time") from None
        except (httpx.HTTPError, ValueError):
            raise RemoteError(502, f"{self.label} sent a malformed answer") from None
        finally:
            await response.aclose()

    # -- what the server offers -------------------------------------------------------------------

    async def models(self, ttl: float) -> list[dict[str, Any]]:
        """The server's ``/models`` entries (pipes, manifolds and filters), cached ``ttl`` seconds."""
        if self._cached is not None and self._cached[0] > time.monotonic():
            return self._cached[1]
        try:
            answer = await self.json("GET", "models")
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise RemoteError(502, f"{self.label} sent a malformed model list")
        except RemoteError:
            # Remember the failure as an empty list for a while: every completion asks for the
            # filters, and a server that is down must not cost each one a connection attempt.
            self._cached = (time.monotonic() + ttl, [])
            raise
        models = [entry for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]
        self._cached = (time.monotonic() + ttl, models)
        return models

    def forget_models(self) -> None:
        self._cached = None

    async def chat(self, body: dict[str, Any]) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        """``POST /chat/completions``: the answer, or an iterator of chunks relayed as they arrive."""
        import httpx

        response = await self.send("POST", "chat/completions", json=body)
        if "text/event-stream" not in response.headers.get("content-type", ""):
            try:
                answer = json.loads(await response.aread())
            except (httpx.HTTPError, ValueError):
                raise RemoteError(502, f"{self.label} sent a malformed answer") from None
            finally:
                await response.aclose()
            if not isinstance(answer, dict):
                raise RemoteError(502, f"{self.label} sent a malformed answer")
            return answer
        return self._events(response)

    async def _events(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        import httpx

        buffer = b""
        try:
            async for piece in response.aiter_bytes():
                buffer += piece
                if len(buffer) > LINE_LIMIT:
                    raise RemoteError(502, f"{self.label} sent an event over {LINE_LIMIT} bytes")
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    event = _event(line, self.label)
                    if event is _DONE:
                        return
                    if event is not None:
                        yield event
            event = _event(buffer, self.label)
            if event is not None and event is not _DONE:
                yield event
        except httpx.TimeoutException:
            raise RemoteError(504, f"{self.label} stopped answering") from None
        except httpx.HTTPError:
            raise RemoteError(502, f"{self.label} broke off the stream") from None
        finally:
            await response.aclose()

    async def filter(
        self, pipeline_id: str, direction: str, body: dict[str, Any], user: dict[str, Any]
    ) -> Any:
        """Run a filter's ``inlet`` or ``outlet`` on ``body``; returns the body the server sends back."""
        path = f"{quote(pipeline_id, safe='')}/filter/{direction}"
        return await self.json("POST", path, json={"user": user, "body": body})


_DONE = object()


def _event(line: bytes, label: str) -> Any:
    line = line.strip()
    if not line.startswith(b"data:"):
        return None
    payload = line[5:].strip()
    if payload == b"[DONE]":
        return _DONE
    try:
        event = json.loads(payload)
    except ValueError:
        raise RemoteError(502, f"{label} sent an unreadable event") from None
    if isinstance(event, dict) and isinstance(event.get("error"), dict | str):
        error = event["error"]
        detail = error.get("detail") or error.get("message") if isinstance(error, dict) else error
        raise RemoteError(502, f"{label}: {detail}")
    return event if isinstance(event, dict) else None


class RemoteServers:
    """Every configured server, by ``urlIdx``.

    :param config: ``[plugins.pipelines]``.
    :param client_for: ``host.http_client``: the pooled client of a named upstream.
    """

    def __init__(self, config: PipelinesConfig, client_for: Any) -> None:
        self.ttl = config.models_cache_ttl
        self.servers: list[RemoteServer] = []
        if config.servers:
            import httpx

            timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
            self.servers = [
                RemoteServer(index, server, client_for(f"pipelines-{index}", timeout=timeout))
                for index, server in enumerate(config.servers)
            ]

    def __bool__(self) -> bool:
        return bool(self.servers)

    def get(self, index: Any) -> RemoteServer | None:
        return self.servers[index] if isinstance(index, int) and 0 <= index < len(self.servers) else None

    async def models(self) -> list[tuple[RemoteServer, dict[str, Any]]]:
        """Every server's entries; a server that fails is left out (logged)."""
        found = []
        for server in self.servers:
            try:
                entries = await server.models(self.ttl)
            except RemoteError as error:
                log.warning("%s could not list its pipelines: %s", server.label, error.detail)
                continue
            found.extend((server, entry) for entry in entries)
        return found

    async def filters_for(self, model_id: str) -> list[tuple[RemoteServer, dict[str, Any]]]:
        """The remote filters targeting ``model_id`` (or ``*``), by ascending priority."""
        found = []
        for server, entry in await self.models():
            pipeline = entry.get("pipeline") if isinstance(entry.get("pipeline"), dict) else {}
            if pipeline.get("type") != "filter" or not server.has_key:
                continue
            targets = pipeline.get("pipelines") or []
            if "*" in targets or model_id in targets:
                found.append((server, entry))
        return sorted(found, key=lambda pair: (_priority(pair[1]), pair[0].index, pair[1]["id"]))

    async def serving(self, model_id: str) -> RemoteServer | None:
        """The server whose pipe or manifold is ``model_id``."""
        for server, entry in await self.models():
            pipeline = entry.get("pipeline") if isinstance(entry.get("pipeline"), dict) else {}
            if entry["id"] == model_id and pipeline.get("type") != "filter":
                return server
        return None


def _priority(entry: dict[str, Any]) -> int:
    priority = (entry.get("pipeline") or {}).get("priority")
    return priority if isinstance(priority, int) else 0
