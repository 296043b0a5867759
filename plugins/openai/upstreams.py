"""One OpenAI-compatible upstream: where its requests go, how they are signed, how its failures read.

Every failure becomes an :class:`UpstreamError` whose ``detail`` names the connection (never its key):
an unreachable upstream or a 5xx is 502, a timeout 504, and an upstream 4xx keeps its status because
the request itself was at fault (a wrong parameter, a rate limit).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from colonnade import jsoncodec
from colonnade.streams import drain

# httpx is imported where it is used: a server with no upstream configured never loads it.
if TYPE_CHECKING:
    import httpx

    from colonnade.plugins.openai.config import Connection, OpenAIConfig

#: Bytes of an upstream error body read to find its message; the rest is dropped.
ERROR_BODY_LIMIT = 64 * 1024
#: Upstream response headers worth passing on with an error (rate limits).
PASSED_ERROR_HEADERS = ("retry-after", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


class UpstreamError(Exception):
    """An upstream failure, answered as ``{"detail": detail}`` (plus the upstream's ``error`` object).

    :param status: The status for the client: 502, 504, 404 (unknown model) or the upstream's 4xx.
    :param detail: Human-readable, naming the connection; never includes a key.
    :param error: The upstream's own ``error`` object (a 4xx), keys redacted, for OpenAI clients.
    :param headers: Headers to pass on (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        error: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error = error
        self.headers = headers or {}


class Upstream:
    """One configured connection with its pooled HTTP client.

    :param index: The connection's position in ``[plugins.openai] connections`` (Open WebUI's ``urlIdx``).
    :param connection: Its configuration.
    :param client: The pooled ``httpx.AsyncClient`` (``host.http_client``), shared by every request.
    :param base_url: The base URL actually used (tests point it at a fake).
    """

    def __init__(self, index: int, connection: Connection, client: httpx.AsyncClient, base_url: str) -> None:
        self.index = index
        self.connection = connection
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.name = connection.name or str(index)
        self.label = f"OpenAI upstream '{self.name}'"
        self._key = connection.api_key.get_secret_value() if connection.api_key else ""
        # Fetched model list: (monotonic time, raw upstream entries); None until fetched.
        self.cached: tuple[float, list[dict[str, Any]]] | None = None
        self.last_error: UpstreamError | None = None
        self._parsed_urls: dict[str, httpx.URL] = {}

    # -- model ids -------------------------------------------------------------------------------

    def public_id(self, model: str) -> str:
        prefix = self.connection.prefix_id
        return f"{prefix}.{model}" if prefix else model

    def upstream_id(self, public_id: str) -> str | None:
        """The upstream's own id for ``public_id``, or ``None`` when it does not carry this prefix."""
        prefix = self.connection.prefix_id
        if not prefix:
            return public_id
        head, dot, rest = public_id.partition(".")
        return rest if dot and head == prefix and rest else None

    # -- requests --------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._key:
            if self.connection.azure:
                headers["api-key"] = self._key
            else:
                headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def url(self, endpoint: str, model: str | None = None) -> tuple[str, dict[str, str]]:
        """The URL and query parameters of ``endpoint`` (``chat/completions``, ``embeddings``, ``models``)."""
        if not self.connection.azure:
            return f"{self.base_url}/{endpoint}", {}
        params = {"api-version": self.connection.api_version or ""}
        if model is None:
            return f"{self.base_url}/openai/{endpoint}", params
        deployment = quote(self.connection.deployments.get(model, model), safe="")
        return f"{self.base_url}/openai/deployments/{deployment}/{endpoint}", params

    async def send(
        self,
        endpoint: str,
        body: dict[str, Any] | None,
        model: str | None = None,
        *,
        timeout: Any = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> httpx.Response:
        """Send a request and return the streaming response once its headers are in.

        ``body`` goes as JSON (no body: a GET); with ``files`` (``(field, (filename, bytes, content
        type))``, a field may repeat) the request is multipart instead and ``body`` holds its form fields
        (``None`` values left out). The caller owns the response and must ``aclose()`` it. Errors
        (network, timeout, status >= 400) are raised as :class:`UpstreamError`; the error response is
        closed here.
        """
        import httpx

        url, params = self.url(endpoint, model)
        if not params:  # a plain connection: its URLs are parsed once (about half of building a request)
            if url not in self._parsed_urls:
                self._parsed_urls[url] = httpx.URL(url)
            url = self._parsed_urls[url]
        headers = self._headers()
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        if files is not None:
            fields = {name: str(value) for name, value in (body or {}).items() if value is not None}
            extra.update(data=fields, files=files)
        elif body is not None:
            extra["content"] = jsoncodec.dumps(body)
            headers["Content-Type"] = "application/json"
        method = "GET" if body is None and files is None else "POST"
        request = self.client.build_request(method, url, params=params or None, headers=headers, **extra)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise self.timeout_error(error) from None
        except httpx.HTTPError as error:
            raise UpstreamError(
                502, f"{self.label} is unreachable: {self.redact(str(error) or type(error).__name__)}"
            ) from None
        if response.status_code >= 400:
            raise await self._status_error(response)
        return response

    async def read(self, response: httpx.Response, what: str) -> bytes:
        """The whole body of ``response``, closed afterwards; a break or a stall is an :class:`UpstreamError`.

        :param what: What the body is, for the error detail ("its transcription").
        """
        try:
            with self.transport_errors(what):
                return await response.aread()
        finally:
            await response.aclose()

    async def relay(self, response: httpx.Response, what: str) -> AsyncIterator[bytes]:
        """The body of ``response`` as it arrives (errors as in :meth:`read`), closed however it ends."""
        try:
            with self.transport_errors(what):
                async for chunk in response.aiter_bytes():
                    yield chunk
        finally:
            await response.aclose()

    @contextmanager
    def transport_errors(self, what: str) -> Iterator[None]:
        """Raise httpx's failures inside as :class:`UpstreamError`: a timeout as 504, a broken
        connection as 502 naming ``what`` ("its speech", "the stream")."""
        import httpx

        try:
            yield
        except httpx.TimeoutException as error:
            raise self.timeout_error(error) from None
        except httpx.HTTPError as error:
            raise UpstreamError(502, f"{self.label} broke off {what}: {type(error).__name__}") from None

    async def read_json(self, response: httpx.Response, what: str) -> Any:
        """The JSON body of ``response``; a body that is not JSON is a 502 naming ``what``."""
        raw = await self.read(response, what)
        try:
            return json.loads(raw)
        except ValueError:
            raise UpstreamError(502, f"{self.label} sent a malformed answer (not JSON) for {what}") from None

    def timeout_error(self, error: Exception) -> UpstreamError:
        import httpx

        what = "connect" if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout) else "answer"
        return UpstreamError(504, f"{self.label} did not {what} in time")

    async def _status_error(self, response: httpx.Response) -> UpstreamError:
        import httpx

        try:
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) >= ERROR_BODY_LIMIT:
                    break
        except httpx.HTTPError:
            raw = bytearray()
        finally:
            await response.aclose()
        message, error = self._error_message(bytes(raw[:ERROR_BODY_LIMIT]))
        status = response.status_code
        headers = {name: response.headers[name] for name in PASSED_ERROR_HEADERS if name in response.headers}
        if 400 <= status < 500:
            return UpstreamError(
                status,
                f"{self.label} refused the request ({status}): {message}",
                error=error,
                headers=headers,
            )
        return UpstreamError(502, f"{self.label} failed ({status}): {message}", headers=headers)

    def _error_message(self, raw: bytes) -> tuple[str, Any]:
        text = self.redact(raw.decode("utf-8", "replace")).strip()
        try:
            data = json.loads(text)
        except ValueError:
            return (text[:500] or "no details"), None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            return str(error.get("message") or error)[:500], error
        if isinstance(error, str):
            return error[:500], {"message": error}
        if isinstance(data, dict) and data.get("detail"):
            return str(data["detail"])[:500], None
        return text[:500], None

    def redact(self, text: str) -> str:
        """``text`` with this connection's key replaced, for anything that reaches a client or a log."""
        return text.replace(self._key, "***") if self._key else text

    # -- model list ------------------------------------------------------------------------------

    async def fetch_models(self, config: OpenAIConfig) -> list[dict[str, Any]]:
        """The upstream's raw model entries (``model_ids`` when configured); raises :class:`UpstreamError`."""
        import httpx

        if self.connection.model_ids:
            return [
                {"id": model, "object": "model", "owned_by": "openai"} for model in self.connection.model_ids
            ]
        timeout = httpx.Timeout(
            config.models_timeout, connect=min(config.connect_timeout, config.models_timeout)
        )
        response = await self.send("models", None, timeout=timeout)
        try:
            raw = await response.aread()
        except httpx.TimeoutException as error:
            raise self.timeout_error(error) from None
        except httpx.HTTPError as error:
            raise UpstreamError(
                502, f"{self.label} broke off its model list: {type(error).__name__}"
            ) from None
        finally:
            await response.aclose()
        try:
            data = json.loads(raw)
            entries = data["data"] if isinstance(data, dict) else data
            return [
                entry for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)
            ]
        except (ValueError, KeyError, TypeError):
            raise UpstreamError(502, f"{self.label} sent a malformed model list") from None

    def model_entry(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Open WebUI's model dict for one upstream entry."""
        model_id = self.public_id(raw["id"])
        entry = {
            "id": model_id,
            "name": raw.get("name") or model_id,
            "object": "model",
            "created": raw.get("created") or int(time.time()),
            "owned_by": "openai",
            "openai": raw,
            "urlIdx": self.index,
            "connection_type": "external",
            "tags": [{"name": tag} for tag in self.connection.tags],
        }
        if self.connection.azure:
            entry["provider"] = "azure"
        return entry


async def sse_events(response: httpx.Response, upstream: Upstream) -> AsyncIterator[bytes]:
    """The upstream's SSE stream, in batches of whole events, each batch yielded as soon as it arrives.

    Bytes are passed on as they come; only an event's unfinished tail waits for the rest of that event
    (an SSE client cannot use half an event anyway), so a malformed event is caught before any of it
    reaches the client. Every ``data:`` payload must be JSON or ``[DONE]``. A stream that ends cleanly
    without ``[DONE]`` gets one; a cut-off, malformed or stalled stream raises :class:`UpstreamError`.
    The response is closed however the iteration ends (a client disconnect included).
    """
    done = False
    async for batch, _payloads, batch_done in _sse_batches(response, upstream):
        done = done or batch_done
        yield batch
    if not done:
        yield b"data: [DONE]\n\n"


async def sse_payloads(response: httpx.Response, upstream: Upstream) -> AsyncIterator[list[Any]]:
    """The same stream as :func:`sse_events`, as the decoded ``data`` of its events (``[DONE]`` left
    out), one list per batch: each event is decoded once, to check it and to use it."""
    async for _batch, payloads, _done in _sse_batches(response, upstream):
        if payloads:
            yield payloads


async def _sse_batches(
    response: httpx.Response, upstream: Upstream
) -> AsyncIterator[tuple[bytes, list[Any], bool]]:
    """``(whole events, their decoded payloads, whether [DONE] was among them)`` as they arrive; after
    ``[DONE]`` the rest of the answer is drained (the connection goes back to the pool)."""
    pending = b""
    # Undecoded bytes skip httpx's decoder layer, one async generator per event fewer.
    encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
    chunks = response.aiter_bytes() if encoded else response.aiter_raw()
    try:
        with upstream.transport_errors("the stream"):
            async for chunk in chunks:
                if not pending and chunk.endswith(b"\n\n") and b"\r" not in chunk:
                    batch = chunk  # whole events, as an upstream usually sends them: nothing to join
                else:
                    pending += chunk
                    if b"\r" in pending:
                        pending = pending.replace(b"\r\n", b"\n")
                    end = pending.rfind(b"\n\n")
                    if end < 0:
                        continue
                    batch, pending = pending[: end + 2], pending[end + 2 :]
                try:
                    payloads, done = _decode_events(batch, upstream)
                except UpstreamError:
                    # The events before the malformed one go out first, as if they had come alone.
                    batch, payloads, done = _events_before_malformed(batch, upstream)
                    if not done:
                        if batch:
                            yield batch, payloads, done
                        raise
                yield batch, payloads, done
                if done:
                    await drain(chunks)
                    return
        if pending.strip():
            raise UpstreamError(502, f"{upstream.label} sent a malformed stream (it ended mid-event)")
    finally:
        await response.aclose()


def _events_before_malformed(batch: bytes, upstream: Upstream) -> tuple[bytes, list[Any], bool]:
    """The whole events of ``batch`` before its first malformed one (up to ``[DONE]`` if that comes
    first), their payloads, and whether ``[DONE]`` ended them."""
    good = b""
    payloads: list[Any] = []
    for event in batch.split(b"\n\n")[:-1]:
        try:
            decoded, done = _decode_events(event + b"\n\n", upstream)
        except UpstreamError:
            break
        good += event + b"\n\n"
        payloads += decoded
        if done:
            return good, payloads, True
    return good, payloads, False


def _event_data(batch: bytes) -> list[bytes]:
    """The ``data`` of each event of a batch of whole events (several ``data:`` lines joined by newlines).

    Surrounding whitespace may be left on a payload (JSON ignores it; :func:`_decode_events` allows it
    around ``[DONE]``).
    """
    if batch.startswith(b"data: "):
        # Events of one ``data:`` line each, as upstreams send them: one split for the whole batch.
        found = batch[6:-2].split(b"\n\ndata: ")
        if len(found) == batch.count(b"\n\n") and batch.count(b"\n") == 2 * len(found):
            return found
    found = []
    for event in batch.split(b"\n\n"):
        lines = [line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
        if lines:
            found.append(b"\n".join(lines).strip())
    return found


def _decode_events(batch: bytes, upstream: Upstream) -> tuple[list[Any], bool]:
    """The JSON objects of whole events, and whether ``[DONE]`` was among them.

    :raises UpstreamError: For a payload that is not a JSON object.
    """
    done = False
    decoded = []
    loads = jsoncodec.loads
    for payload in _event_data(batch):
        if payload == b"[DONE]":
            done = True
            continue
        try:
            value = loads(payload)
        except ValueError:
            if payload.strip() == b"[DONE]":
                done = True
                continue
            value = None
        if type(value) is not dict:
            raise UpstreamError(502, f"{upstream.label} sent a malformed stream (an event is not JSON)")
        decoded.append(value)
    return decoded, done
