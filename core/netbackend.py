"""An httpcore network backend written directly on asyncio, for every upstream client.

``Host.http_client()`` builds its clients with :class:`UpstreamClient`, whose default transport uses
:class:`AsyncioBackend` instead of httpcore's default, the anyio backend. Why not anyio's (issue 4,
where the proxies' added latency is measured):

- anyio wraps **every** socket read and write in a cancel scope and a ``fail_after`` deadline, which
  costs a timer and scope bookkeeping per read even when bytes are already waiting; profiles of the
  completions proxies at 16 concurrent streams put about 10% of the server's CPU there.
- httpcore asks each idle pooled connection ``get_extra_info("is_readable")`` every time it assigns a
  request; on anyio that is a ``select``/poll system call per connection (about 50 per stream at
  16 concurrent streams).

Here each connection is an :class:`asyncio.Protocol` (:class:`StreamProtocol`) that buffers what
arrives. A read takes what is buffered at once (a burst of upstream chunks reaches httpx as one read)
and only waits, on a future with one ``call_later`` timer, when nothing is there; ``is_readable`` is
answered from the protocol's state. Flow control is asyncio's: reading pauses while more than
:data:`HIGH_WATER` bytes wait for the reader, and a write waits only while the transport has paused
writing. It runs on plain asyncio and on uvloop (``colonnade serve``). Exceptions are httpcore's, as
its anyio backend raises them (connect → ``ConnectError``/``ConnectTimeout``, read → ``ReadError``/
``ReadTimeout``, write → ``WriteError``/``WriteTimeout``, ``b""`` at the end of the stream).

Proxied connections (``proxy=``, environment proxies, ``mounts=``) and clients given their own
``transport=`` are left to httpx as they are.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from colonnade import chunked, httpcore_locks

#: Reading from the socket pauses while more than this many bytes wait for the reader...
HIGH_WATER = 256 * 1024
#: ... and resumes once the reader has brought them down to this.
LOW_WATER = 64 * 1024
#: A stream's writes are kept and sent together until this many bytes wait (see ``AsyncioStream.write``).
COALESCE_LIMIT = 64 * 1024

#: httpcore's names for a stream's details, and asyncio's. The socket is asyncio's (or uvloop's)
#: stand-in for it, with ``setsockopt``, ``getsockname``, ``fileno``...
EXTRA_INFO = {
    "socket": "socket",
    "client_addr": "sockname",
    "server_addr": "peername",
    "ssl_object": "ssl_object",
}

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class StreamProtocol(asyncio.Protocol):
    """One connection's state as asyncio reports it: the bytes received and not yet read, the end of
    the stream, a lost connection, and whether writing is paused.

    At most one reader and one writer wait at a time (httpcore locks each direction of a connection).
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        #: Set once the connection is lost; ``error`` is why, when it was not a clean close.
        self.lost = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self._read_waiter: asyncio.Future[bool] | None = None
        self._write_waiter: asyncio.Future[bool] | None = None

    # -- asyncio's callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self._can_pause():
            self.reading_paused = True
            self.transport.pause_reading()
        _wake(self._read_waiter)

    def eof_received(self) -> None:
        # Returning None lets the transport close itself: an HTTP client has nothing to say after it.
        self.eof = True
        _wake(self._read_waiter)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        _wake(self._read_waiter)
        _wake(self._write_waiter)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self._write_waiter)

    # -- used by the stream ----------------------------------------------------------------------

    @property
    def readable(self) -> bool:
        """Whether a read would return at once (bytes, the end of the stream, or an error)."""
        return bool(self.buffer) or self.eof or self.lost

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of the buffered bytes, resuming reading once the buffer is low."""
        if max_bytes >= len(self.buffer):
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self.reading_paused and len(self.buffer) <= LOW_WATER:
            self.reading_paused = False
            if self._can_pause():
                self.transport.resume_reading()
        return data

    def _can_pause(self) -> bool:
        # A closing transport neither pauses nor resumes (asyncio's TLS one fails once closed).
        return self.transport is not None and not self.transport.is_closing()

    async def wait_readable(self, timeout: float | None) -> bool:
        """Wait until :attr:`readable` (at once if it is); ``False`` if ``timeout`` passed first."""
        if self.readable:
            return True
        self._read_waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            return await _wait(waiter, timeout)
        finally:
            self._read_waiter = None

    async def wait_writable(self, timeout: float | None) -> bool:
        """Wait until writing resumes or the connection is lost; ``False`` if ``timeout`` passed first."""
        self._write_waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            return await _wait(waiter, timeout)
        finally:
            self._write_waiter = None


def _wake(waiter: asyncio.Future[bool] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def _wait(waiter: asyncio.Future[bool], timeout: float | None) -> bool:
    """``await waiter`` with one timer that resolves it to ``False`` after ``timeout`` seconds."""
    if timeout is None:
        return await waiter
    timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """An httpcore network stream over an asyncio transport and its :class:`StreamProtocol`
    (``stream.protocol``, whose state tests and diagnostics may read)."""

    def __init__(self, transport: asyncio.Transport, protocol: StreamProtocol) -> None:
        self.protocol = protocol
        #: Written and not yet handed to the transport (see :meth:`write`).
        self._unsent: list[bytes] = []
        self._unsent_size = 0
        self._use(transport)

    def _use(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        # Read once: they do not change, and asyncio's TLS transport cannot answer once it is closed.
        self._extra_info = {name: transport.get_extra_info(key) for name, key in EXTRA_INFO.items()}

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._unsent:
            self._send_unsent()
        protocol = self.protocol
        if not await protocol.wait_readable(timeout):
            raise httpcore.ReadTimeout("timed out reading from the upstream")
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(_lost_reason(protocol))
        return b""  # the end of the stream, or the connection closed without an error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send ``buffer``, together with what the caller writes next in the same step.

        httpcore writes a request in pieces (its head, its body, the end of a chunked body) and then
        reads the answer. Each piece handed to the transport at once is a system call of its own, and
        on loopback or a fast network the upstream wakes for the head alone and again for the body.
        So pieces are kept until the caller reads, until :data:`COALESCE_LIMIT` bytes are waiting, or
        until the event loop's next turn (a body streamed from elsewhere still leaves as it comes),
        and leave as one write. While the socket is full (the peer reads slower than we write), each
        write goes out at once and waits, as without this, so that a body streamed in small pieces
        still waits for the peer.
        """
        if not buffer:
            return
        protocol = self.protocol
        if protocol.lost or self._transport.is_closing():
            raise httpcore.WriteError(_lost_reason(protocol))
        self._unsent.append(buffer)
        self._unsent_size += len(buffer)
        if self._unsent_size < COALESCE_LIMIT and not protocol.writing_paused:
            if len(self._unsent) == 1:  # the first piece kept: it leaves on the next turn at the latest
                asyncio.get_running_loop().call_soon(self._send_unsent)
            return
        self._send_unsent()
        if protocol.writing_paused and not protocol.lost:
            if not await protocol.wait_writable(timeout):
                raise httpcore.WriteTimeout("timed out writing to the upstream")
            if protocol.lost:
                raise httpcore.WriteError(_lost_reason(protocol))

    def _send_unsent(self) -> None:
        if not self._unsent:
            return  # sent already, by a read or a full buffer
        unsent = self._unsent[0] if len(self._unsent) == 1 else b"".join(self._unsent)
        self._unsent = []
        self._unsent_size = 0
        if self._transport.is_closing():
            return  # lost meanwhile: the read that follows says so, as httpcore expects after a failed write
        self._transport.write(unsent)

    async def aclose(self) -> None:
        self._unsent = []
        self._unsent_size = 0
        transport = self._transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size():
            # A request that could not be sent (a write timeout, a peer that stopped reading): close()
            # would keep the connection until the peer takes it all.
            transport.abort()
        else:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade this connection to TLS in place and return it.

        Bytes already received in plain text cannot be handed to asyncio's TLS layer, so a peer that
        sent any before the handshake is refused with ``ConnectError`` rather than silently losing them.
        """
        if self.protocol.buffer:
            await self.aclose()
            raise httpcore.ConnectError("the server sent data before the TLS handshake")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self.protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except OSError as error:  # ssl.SSLError (a failed verification) is one too
            await self.aclose()
            raise httpcore.ConnectError(_describe(error)) from None
        self.protocol.transport = transport
        self._use(transport)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self.protocol.readable
        return self._extra_info.get(info)


def _lost_reason(protocol: StreamProtocol) -> str:
    return "the connection is closed" if protocol.error is None else _describe(protocol.error)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on the running asyncio (or uvloop) event loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local_addr = None if local_address is None else (local_address, 0)
        # asyncio sets TCP_NODELAY itself; httpcore's sync backend always sets it, and so do we, so
        # that it does not depend on the event loop.
        options = [*(socket_options or ()), (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        connecting = loop.create_connection(StreamProtocol, host, port, local_addr=local_addr)
        return await _connect(connecting, timeout, options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connect(loop.create_unix_connection(StreamProtocol, path), timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect(
    connecting: Any, timeout: float | None, socket_options: Iterable[SocketOption] | None
) -> AsyncioStream:
    """The stream of a ``loop.create_*connection(...)`` coroutine, with httpcore's connect errors."""
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await connecting
    except TimeoutError:
        raise httpcore.ConnectTimeout("timed out connecting") from None
    except OSError as error:
        raise httpcore.ConnectError(_describe(error)) from None
    stream = AsyncioStream(transport, protocol)
    try:
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
    except OSError as error:
        transport.close()
        raise httpcore.ConnectError(_describe(error)) from None
    return stream


def asyncio_transport(
    *,
    verify: ssl.SSLContext | str | bool = True,
    cert: Any = None,
    trust_env: bool = True,
    http1: bool = True,
    http2: bool = False,
    limits: httpx.Limits,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncHTTPTransport:
    """An ``httpx.AsyncHTTPTransport`` as httpx builds it by default, connecting with ``network_backend``
    (an :class:`AsyncioBackend` unless given, such as rag's guarded backend wrapping one).

    :param limits: The pool's limits, as for httpx.
    :param verify: As for httpx: ``True``, ``False``, a CA bundle path or an ``ssl.SSLContext``.
    :param trust_env: Whether ``SSL_CERT_FILE``/``SSL_CERT_DIR`` choose the CA bundle (proxies from the
        environment are the client's business, see :class:`UpstreamClient`).
    """
    ssl_context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, http1=http1, http2=http2, limits=limits)
    # httpx has no way to pass a network backend: replace its pool with one that has ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=http1,
        http2=http2,
        network_backend=network_backend or AsyncioBackend(),
    )
    return transport


class _NoCookieJar(httpx.Cookies):
    """A jar that keeps no cookie an answer sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class UpstreamClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose default transport connects with :class:`AsyncioBackend`, and
    which keeps no cookies.

    Only the transport httpx would build by default is replaced (its ``_init_transport`` hook): a
    ``transport=`` given, ``proxy=``, ``mounts=`` and proxies from the environment behave exactly as
    with ``httpx.AsyncClient``.

    One client serves every user's requests to an upstream, so a cookie one answer set would go out
    with the next user's request: cookies an upstream sets are dropped (also sparing httpx's cookie
    handling on every answer). Cookies given as ``cookies=`` are sent as usual; a plugin that needs a
    cookie sends it in its request's headers.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        chunked.install()
        httpcore_locks.install()
        super().__init__(*args, **kwargs)
        jar = _NoCookieJar()
        jar.update(self.cookies)
        self._cookies = jar

    def _init_transport(  # type: ignore[override]
        self,
        verify: ssl.SSLContext | str | bool,
        cert: Any,
        trust_env: bool,
        http1: bool,
        http2: bool,
        limits: httpx.Limits,
        transport: httpx.AsyncBaseTransport | None,
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport
        return asyncio_transport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits
        )
