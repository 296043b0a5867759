"""Relaying an Ollama answer to our client: NDJSON streams line by line, JSON bodies whole.

A stream's first line is read before our client gets a status, so an upstream that answers garbage
straight away is a 502 with a JSON detail. After that the status is sent and a failure can only be
told in the stream itself, the way Ollama does: a last line ``{"error": "..."}`` (its client
libraries raise on it). A stream that ends without ``"done": true`` is reported the same way.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from colonnade import jsoncodec
from colonnade.errors import ApiError
from colonnade.plugins.ollama.upstreams import Upstream
from colonnade.streams import coalesce, drain

# httpx is imported where it is used: a server with no upstream configured never loads it.
if TYPE_CHECKING:
    import httpx

log = logging.getLogger("colonnade.ollama")

NDJSON = "application/x-ndjson"

#: Longest stream line accepted (a streamed line is one token or a progress report; this is generous).
MAX_LINE = 8 * 1024 * 1024


def error_line(message: str) -> bytes:
    return json.dumps({"error": message}).encode() + b"\n"


class UpstreamStream:
    """The parsed lines of one streamed upstream answer.

    :param upstream: Who is answering (for error messages).
    :param response: The open ``httpx`` response; closed when iteration ends or is abandoned.
    :param finished: Whether a line is the last one (``"done": true`` for generation; a pull ends
        with ``"status": "success"`` instead).
    """

    def __init__(
        self, upstream: Upstream, response: httpx.Response, finished: Callable[[dict], bool] | None = None
    ) -> None:
        self.upstream = upstream
        self.response = response
        self.finished = finished or is_done
        self.done = False
        self._chunks = response.aiter_bytes()
        self._partial = bytearray()
        self._complete: deque[bytes] = deque()
        self._ended = False

    async def _next_line(self) -> bytes | None:
        """The next line, split on ``\n`` only.

        Not ``httpx``'s ``aiter_lines``: it splits like ``str.splitlines``, also on U+0085 and
        U+2028, which JSON strings may hold unescaped (Go's encoder leaves U+0085 as it is), so a
        model writing one would cut its line in two.
        """
        import httpx
        while not self._complete:
            if self._ended:
                return None
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._ended = True
                if self._partial.strip():
                    self._complete.append(bytes(self._partial))
                continue
            except httpx.HTTPError as error:
                raise self.upstream.transport_error(error) from None
            self._partial += chunk
            if b"\n" in chunk:
                *lines, rest = self._partial.split(b"\n")
                self._complete.extend(bytes(line) for line in lines)
                self._partial = bytearray(rest)
            if len(self._partial) > MAX_LINE:
                raise ApiError(502, f"{self.upstream.label} sent a malformed stream (a line is too long)")
        return self._complete.popleft()

    async def next_object(self) -> tuple[dict[str, Any], bytes] | None:
        """The next JSON object and its raw line, or ``None`` at the end of the stream.

        :raises ApiError: 502/504 for a broken connection, a timeout or a line that is not an object.
        """
        while True:
            line = await self._next_line()
            if line is None:
                return None
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                item = jsoncodec.loads(line)
            except ValueError:
                item = None
            if not isinstance(item, dict):
                raise ApiError(502, f"{self.upstream.label} sent a malformed stream (a line is not JSON)")
            if self.finished(item) or isinstance(item.get("error"), str):
                self.done = True
            return item, line

    async def aclose(self) -> None:
        if self.done and not self._ended:
            await drain(self._chunks)  # the connection goes back to the pool
        await self.response.aclose()


def is_done(item: dict[str, Any]) -> bool:
    return item.get("done") is True


async def open_stream(
    upstream: Upstream, path: str, body: dict[str, Any], finished: Callable[[dict], bool] | None = None
) -> tuple[UpstreamStream, bytes]:
    """Start a streamed request and read its first line (see the module docstring)."""
    response = await upstream.send("POST", path, body)
    stream = UpstreamStream(upstream, response, finished)
    try:
        first = await stream.next_object()
        if first is None:
            raise ApiError(502, f"{upstream.label} ended the stream before sending anything")
        item, line = first
        if isinstance(item.get("error"), str):
            raise ApiError(502, f"{upstream.label}: {item['error']}")
    except BaseException:
        await stream.aclose()
        raise
    return stream, line + b"\n"


async def ndjson_lines(
    stream: UpstreamStream, first: bytes, after: Callable[[], None] | None = None
) -> AsyncIterator[bytes]:
    """Our client's body: the upstream lines as they arrive, then an error line if it broke off.

    Cancellation (our client went away) runs the ``finally``, which closes the upstream connection,
    so the upstream stops generating.
    """
    try:
        yield first
        while not stream.done:
            try:
                item = await stream.next_object()
            except ApiError as error:
                log.warning("stream from %s broke off: %s", stream.upstream.label, error.detail)
                yield error_line(error.detail)
                return
            if item is None:
                yield error_line(f"{stream.upstream.label} ended the stream before it was done")
                return
            yield item[1] + b"\n"
    finally:
        await stream.aclose()
        if after is not None:
            after()


class ClosingBody:
    """The response body: :func:`ndjson_lines`, plus a close that reaches the upstream even when the
    body was never iterated (Quart closes the body it was given; a generator that never started
    would not run its ``finally``)."""

    def __init__(self, stream: UpstreamStream, first: bytes, after: Callable[[], None] | None) -> None:
        self._stream = stream
        self._lines = coalesce(ndjson_lines(stream, first, after))

    def __aiter__(self) -> ClosingBody:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self._lines)

    async def aclose(self) -> None:
        try:
            await self._lines.aclose()
        finally:
            await self._stream.aclose()


def ndjson_response(stream: UpstreamStream, first: bytes, after: Callable[[], None] | None = None) -> Any:
    """The streamed response; ``after`` runs once the stream ended, however it ended."""
    from quart import Response

    response = Response(ClosingBody(stream, first, after), status=200, content_type=NDJSON)
    response.timeout = None  # a long generation outlives Quart's 60 s default
    return response
