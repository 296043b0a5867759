"""Chunked HTTP/1.1 bodies read a buffer at a time rather than a chunk at a time.

h11, the HTTP/1.1 parser under httpx (and hypercorn), turns a ``Transfer-Encoding: chunked`` body into
one ``Data`` event per chunk. A streamed completion is sent as one chunk per SSE event: a 200-token
answer is 200 chunks, and an upstream's burst of them arrives in a handful of socket reads. Each chunk
then went, alone, through h11's state machine, httpcore's and httpx's layers of async generators and the
relay's own loop. Measured on the ``/openai`` relay at 16 concurrent streams (issue 4): about 205 chunks
per stream against 6 socket reads, and that per-chunk path was more than a third of the server's CPU.

:class:`JoinedChunkedReader` is h11's own ``ChunkedReader``, asked again while whole chunks are
buffered: it answers every chunk it can read now as **one** ``Data`` event. Bytes, their order, the
checks on chunk headers and footers, trailers and errors are h11's; only where one ``Data`` ends and
the next begins changes (``chunk_start``/``chunk_end`` then describe the joined run, which neither
httpcore nor hypercorn reads). A protocol error met after some chunks were read is raised on the next
call, once those chunks are delivered; the end of the body likewise.

:func:`install` puts it in h11's table of body readers, for every h11 connection of the process (upstream
clients and the server's own parsing of chunked request bodies alike). It does nothing when h11's table
does not look as expected, so a future h11 falls back to its own reader rather than breaking.
"""

from __future__ import annotations

from typing import Any

import h11
from h11 import Data, EndOfMessage
from h11._readers import READERS, ChunkedReader, chunk_header_re

CRLF = b"\r\n"
HEX_DIGITS = b"0123456789abcdefABCDEF"


class JoinedChunkedReader(ChunkedReader):
    """``ChunkedReader`` that answers all the chunks already buffered as one ``Data`` event."""

    def __init__(self) -> None:
        super().__init__()
        #: What h11's reader answered after the chunks last joined: the end of the body or an error,
        #: delivered on the next call.
        self._held: EndOfMessage | h11.ProtocolError | None = None

    def __call__(self, buf: Any) -> Data | EndOfMessage | None:
        held = self._held
        if held is not None:
            self._held = None
            if isinstance(held, h11.ProtocolError):
                raise held
            return held
        pieces: list[bytes] = []
        chunk_start = not self._bytes_in_chunk
        if self._bytes_in_chunk or self._reading_trailer:  # in the middle of a chunk: h11 finishes it
            event = super().__call__(buf)
            if not isinstance(event, Data):
                return event
            pieces.append(event.data)
        self._take_whole_chunks(buf, pieces)
        if pieces and not len(buf):  # nothing left to read, as usual: asking h11's reader only says so
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            return Data(data=data, chunk_start=chunk_start, chunk_end=not self._bytes_in_chunk)
        while True:  # what is left: a chunk not all here yet, the last chunk and trailers, an error
            try:
                event = super().__call__(buf)
            except h11.ProtocolError as error:  # raised on the next call, once ``pieces`` are read
                if not pieces:
                    raise
                self._held = error
                break
            if event is None:
                break
            if not isinstance(event, Data):
                if not pieces:
                    return event
                self._held = event
                break
            pieces.append(event.data)
        if not pieces:
            return None
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return Data(data=data, chunk_start=chunk_start, chunk_end=not self._bytes_in_chunk)

    def _take_whole_chunks(self, buf: Any, pieces: list[bytes]) -> None:
        """Move every whole chunk at the front of ``buf`` to ``pieces``: h11's checks in one pass over
        the buffer rather than a call per chunk. Stops, leaving the rest to h11's reader, at anything
        else (a chunk not all here, the last chunk, a malformed header or footer)."""
        if self._bytes_in_chunk or self._reading_trailer:
            return
        data = bytes(buf)
        pos = 0
        if self._bytes_to_discard:  # the CRLF after the chunk just read
            if self._bytes_to_discard != CRLF or not data.startswith(CRLF):
                return
            pos = 2
        size_of_data = len(data)
        while True:
            line_end = data.find(CRLF, pos)
            if line_end < 0:
                break
            size_line = data[pos:line_end]
            if 0 < len(size_line) <= 20 and not size_line.strip(HEX_DIGITS):
                size = int(size_line, 16)  # a bare size, as servers send it: what h11's pattern allows
            else:  # extensions, spaces or anything malformed: h11's own pattern decides
                header = chunk_header_re.fullmatch(data, pos, line_end + 2)
                if header is None:
                    break
                size = int(header["chunk_size"], 16)
            start = line_end + 2
            end = start + size
            if size == 0 or end + 2 > size_of_data or data[end : end + 2] != CRLF:
                break
            pieces.append(data[start:end])
            pos = end + 2
        if pos:
            buf.maybe_extract_at_most(pos)
            self._bytes_to_discard = b""


def install() -> bool:
    """Make h11 read chunked bodies with :class:`JoinedChunkedReader`; ``False`` if it cannot."""
    body_readers = READERS.get(h11.SEND_BODY) if isinstance(READERS, dict) else None
    if not isinstance(body_readers, dict) or body_readers.get("chunked") not in (
        ChunkedReader,
        JoinedChunkedReader,
    ):
        return False
    body_readers["chunked"] = JoinedChunkedReader
    return True
