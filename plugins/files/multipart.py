"""Incremental ``multipart/form-data`` parsing over an async stream of body chunks.

The parsing itself is Werkzeug's sans-I/O ``MultipartDecoder`` (the parser Quart's own form handling
uses, already installed with Quart); this module feeds it bounded slices and turns its events into parts
whose data can be streamed. Nothing is buffered beyond one slice plus a boundary's length, except what a
caller explicitly reads into memory with :meth:`Part.read` (small fields such as ``metadata``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder

#: Bytes handed to the decoder at a time (a client may send the whole body as one chunk).
FEED_SIZE = 64 * 1024
#: The most the decoder may hold while looking for a boundary or the end of a part's headers.
MAX_BUFFER = 2 * FEED_SIZE


class MalformedMultipart(Exception):
    """The body is not valid ``multipart/form-data``; the message says why (safe to show)."""


class Part:
    """One part of the form: a field, or a file when ``filename`` is not ``None``."""

    def __init__(self, reader: MultipartReader, name: str, filename: str | None, headers: Headers) -> None:
        self._reader = reader
        self.name = name
        self.filename = filename
        self.headers = headers
        self._finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield this part's data as it is parsed."""
        while not self._finished:
            event = await self._reader.next_event()
            if not isinstance(event, Data):
                raise MalformedMultipart("Malformed multipart body: part data expected")
            if not event.more_data:
                self._finished = True
            if event.data:
                yield event.data

    async def read(self, limit: int) -> bytes:
        """The whole part, or :class:`MalformedMultipart` when it is longer than ``limit`` bytes."""
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > limit:
                raise MalformedMultipart(f"Form field {self.name!r} is longer than {limit} bytes")
        return bytes(data)

    async def skip(self) -> None:
        async for _ in self.chunks():
            pass


class MultipartReader:
    """Parts of a ``multipart/form-data`` body, in order.

    :param body: The body's chunks, as they arrive.
    :param boundary: The boundary from the request's ``Content-Type``.
    :param max_parts: More parts than this is a malformed request (no form needs many).

    Usage::

        async for part in MultipartReader(body, boundary).parts():
            if part.filename is not None:
                await store.put(key, part.chunks(), ...)
    """

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes, *, max_parts: int = 16) -> None:
        self._body = body.__aiter__()
        self._decoder = MultipartDecoder(boundary, MAX_BUFFER, max_parts=max_parts)
        self._pending = memoryview(b"")
        self._ended = False

    async def parts(self) -> AsyncIterator[Part]:
        while True:
            event = await self.next_event()
            if isinstance(event, (Field, File)):
                part = Part(self, event.name or "", getattr(event, "filename", None), event.headers)
                yield part
                await part.skip()  # whatever the caller left unread
            elif isinstance(event, Epilogue):
                return
            elif isinstance(event, Data):
                raise MalformedMultipart("Malformed multipart body: data outside a part")

    async def next_event(self):
        """The decoder's next event, pulling more of the body as it needs it."""
        while True:
            try:
                event = self._decoder.next_event()
            except RequestEntityTooLarge:
                raise MalformedMultipart("Malformed multipart body: too many parts") from None
            except ValueError as error:  # also UnicodeDecodeError in part headers
                raise MalformedMultipart(f"Malformed multipart body: {_reason(error)}") from None
            if event is not NEED_DATA:
                return event
            await self._feed()

    async def _feed(self) -> None:
        if not self._pending:
            if self._ended:
                # The decoder asked for more after the end: it raises on the next call.
                self._decoder.receive_data(None)
                return
            try:
                self._pending = memoryview(await self._body.__anext__())
            except StopAsyncIteration:
                self._ended = True
                self._decoder.receive_data(None)
                return
        piece, self._pending = self._pending[:FEED_SIZE], self._pending[FEED_SIZE:]
        try:
            self._decoder.receive_data(bytes(piece))
        except RequestEntityTooLarge:
            raise MalformedMultipart(
                "Malformed multipart body: no boundary or part headers too long"
            ) from None


def _reason(error: ValueError) -> str:
    text = str(error)
    if "cannot parse beyond" in text:
        return "the body ended before the closing boundary"
    if isinstance(error, UnicodeDecodeError):
        return "part headers are not UTF-8"
    return text[:200]
