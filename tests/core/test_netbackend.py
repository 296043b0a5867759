"""``colonnade.netbackend``: httpcore's network backend on asyncio, as every upstream client uses it.

Each test runs on plain asyncio and on uvloop (``colonnade serve`` runs uvloop), against real servers
on loopback: a small HTTP/1.1 server written on asyncio streams, plain or over TLS with a
self-signed certificate made here.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import os
import random
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
import uvloop

from colonnade.netbackend import HIGH_WATER, AsyncioBackend, AsyncioStream, UpstreamClient, asyncio_transport
from colonnade.testing import closed_port

#: More than loopback's socket buffers hold, so that flow control has to step in.
LARGE = 16 * 1024 * 1024
#: The most asyncio (and uvloop) hand the protocol in one ``data_received``.
LARGEST_RECEIVE = 256 * 1024


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Awaitable[Any]], Any]:
    """``run(coroutine)`` on a new event loop of each kind."""
    factory = asyncio.new_event_loop if request.param == "asyncio" else uvloop.new_event_loop

    def run(coroutine: Awaitable[Any]) -> Any:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coroutine)

    return run


# -- a loopback HTTP/1.1 server ------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


Handler = Callable[[Request], Awaitable[bool]]


@dataclass
class Server:
    url: str
    connections: int = 0
    #: Set when a connection the server closed is closed.
    closed: asyncio.Event = field(default_factory=asyncio.Event)


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    request_line, *lines = head.decode().rstrip("\r\n").split("\r\n")
    method, path, _ = request_line.split(" ")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return Request(method, path, headers, reader, writer)


def respond(writer: asyncio.StreamWriter, body: bytes, content_type: str = "text/plain") -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)


StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(
    handler: StreamHandler, tls: ssl.SSLContext | None = None, unix_path: str | None = None
) -> AsyncIterator[int]:
    """Serve ``handler`` on 127.0.0.1 (or on the Unix socket ``unix_path``) and yield the port. A
    connection is closed when its handler returns, and the server waits for its handlers before it
    stops, so that no connection outlives the test."""
    handlers: set[asyncio.Task[None]] = set()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    if unix_path is None:
        listening = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=tls)
        port = listening.sockets[0].getsockname()[1]
    else:
        listening, port = await asyncio.start_unix_server(connection, unix_path), 0
    async with listening:
        yield port
        async with asyncio.timeout(5):
            await asyncio.gather(*handlers)


@asynccontextmanager
async def http_server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """Serve ``handler`` on 127.0.0.1; it answers one request and says whether to keep the connection."""
    server = Server("")

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        while (request := await read_request(reader, writer)) is not None and await handler(request):
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        server.closed.set()

    async with raw_server(connection, tls) as port:
        server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        yield server


async def hello(request: Request) -> bool:
    """``/`` says hello; ``POST /echo`` answers with the body it got."""
    if request.method == "POST":
        body = await request.reader.readexactly(int(request.headers["content-length"]))
        respond(request.writer, body, request.headers["content-type"])
    else:
        respond(request.writer, b"hello " + request.path.encode())
    return True


def pattern(size: int) -> bytes:
    """``size`` bytes in which any misplaced piece shows (random, not a repeated block)."""
    return random.Random(size).randbytes(size)


# -- requests through an upstream client ---------------------------------------------------------


def test_requests_share_one_connection_made_by_the_asyncio_backend(run):
    async def scenario():
        async with http_server(hello) as server, UpstreamClient(base_url=server.url) as client:
            assert isinstance(client._transport._pool._network_backend, AsyncioBackend)
            for number in range(3):
                response = await client.get(f"/page/{number}")
                assert (response.status_code, response.text) == (200, f"hello /page/{number}")
            response = await client.post("/echo", json={"question": 42})
            assert response.json() == {"question": 42}
            assert server.connections == 1

    run(scenario())


def test_cookies_an_upstream_sets_are_not_sent_with_later_requests(run):
    """One client carries every user's requests: a cookie set for one must not go out with another's."""
    seen: list[str | None] = []

    async def sets_a_cookie(request: Request) -> bool:
        seen.append(request.headers.get("cookie"))
        body = b"ok"
        request.writer.write(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: session=first-user; Path=/\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return True

    async def scenario():
        async with http_server(sets_a_cookie) as server:
            async with UpstreamClient(base_url=server.url) as client:
                await client.get("/one")
                await client.get("/two")
                assert len(client.cookies) == 0
            async with UpstreamClient(base_url=server.url, cookies={"given": "yes"}) as client:
                await client.get("/three")
        assert seen == [None, None, "given=yes"]

    run(scenario())


def test_a_stream_of_many_chunks_arrives_complete_and_in_order(run):
    async def stream(request: Request) -> bool:
        writer = request.writer
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for number in range(2000):
            line = f"data: {number}\n".encode()
            writer.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            if number % 10 == 0:
                await writer.drain()
                await asyncio.sleep(0)  # let some chunks go out on their own, others together
        writer.write(b"0\r\n\r\n")
        return True

    async def scenario():
        async with http_server(stream) as server, UpstreamClient() as client:
            async with client.stream("GET", server.url) as response:
                lines = [line async for line in response.aiter_lines()]
            assert lines == [f"data: {number}" for number in range(2000)]

    run(scenario())


def test_an_upload_bigger_than_the_socket_buffers_reaches_a_slow_reader(run):
    body = pattern(LARGE)

    async def digest(request: Request) -> bool:
        hashed, left = hashlib.sha256(), int(request.headers["content-length"])
        while left:
            piece = await request.reader.read(min(left, 16384))
            hashed.update(piece)
            left -= len(piece)
            await asyncio.sleep(0)  # a reader slower than the writer
        respond(request.writer, hashed.hexdigest().encode())
        return True

    async def scenario():
        async with http_server(digest) as server, UpstreamClient() as client:
            response = await client.post(server.url, content=body)
            assert response.text == hashlib.sha256(body).hexdigest()

    run(scenario())


def test_a_download_faster_than_the_reader_arrives_whole(run):
    body = pattern(LARGE)

    async def download(request: Request) -> bool:
        respond(request.writer, body, "application/octet-stream")
        return True

    async def scenario():
        async with http_server(download) as server, UpstreamClient() as client:
            received = bytearray()
            async with client.stream("GET", server.url) as response:
                async for piece in response.aiter_raw():
                    received += piece
                    await asyncio.sleep(0)  # a reader slower than the server
            assert received == body

    run(scenario())


def test_an_upstream_that_does_not_answer_in_time_is_a_read_timeout(run):
    async def silent(request: Request) -> bool:
        await request.reader.read()  # until the client gives up and closes
        return False

    async def scenario():
        timeout = httpx.Timeout(5, read=0.05)
        async with http_server(silent) as server, UpstreamClient(timeout=timeout) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(server.url)

    run(scenario())


def test_a_refused_connection_is_a_connect_error(run):
    async def scenario():
        async with UpstreamClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{closed_port()}/")

    run(scenario())


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_connection_the_server_closed_while_idle_is_replaced(run, tls: bool, certificate: Certificate):
    """The pool asks ``is_readable`` of an idle connection before reusing it: the server's close makes it
    readable (at its end), so the next request goes out on a new connection instead of failing."""
    streams: list[AsyncioStream] = []

    class RecordingBackend(AsyncioBackend):
        async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
            streams.append(await super().connect_tcp(*args, **kwargs))
            return streams[-1]

    async def answer_then_close(request: Request) -> bool:
        await hello(request)
        return False  # the answer said nothing of closing: the client keeps the connection in its pool

    async def scenario():
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
        backend = RecordingBackend()
        transport = asyncio_transport(limits=limits, verify=certificate.client, network_backend=backend)
        async with (
            http_server(answer_then_close, certificate.server if tls else None) as server,
            httpx.AsyncClient(transport=transport) as client,
        ):
            assert (await client.get(server.url + "/first")).text == "hello /first"
            await server.closed.wait()
            assert await streams[0].protocol.wait_readable(timeout=5)
            assert streams[0].get_extra_info("is_readable") is True
            assert (await client.get(server.url + "/second")).text == "hello /second"
            assert server.connections == 2 and len(streams) == 2

    run(scenario())


# -- the backend's flow control, seen from its streams ----------------------------------------------


def test_a_write_waits_while_the_peer_does_not_read_and_completes_when_it_does(run):
    body = pattern(LARGE)

    async def scenario():
        release, received = asyncio.Event(), asyncio.get_running_loop().create_future()

        async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await release.wait()
            received.set_result(await reader.readexactly(len(body)))

        async with raw_server(slow_reader) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            writing = asyncio.create_task(stream.write(body, timeout=5))
            await asyncio.sleep(0)  # the write runs up to its wait
            assert stream.protocol.writing_paused and not writing.done()
            release.set()
            await writing
            assert await received == body
            await stream.aclose()

    run(scenario())


def test_a_write_that_cannot_go_out_in_time_is_a_write_timeout(run):
    async def scenario():
        closed = asyncio.Event()

        async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await closed.wait()

        async with raw_server(never_reads) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            with pytest.raises(httpcore.WriteTimeout):
                await stream.write(pattern(LARGE), timeout=0.05)
            await stream.aclose()
            # The request that could not go out is dropped, not kept until the peer reads it.
            assert await stream.protocol.wait_readable(timeout=5) and stream.protocol.lost
            closed.set()

    run(scenario())


def test_reading_pauses_while_the_reader_is_behind_and_nothing_is_lost(run):
    body = pattern(LARGE // 4)

    async def scenario():
        async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(body)
            await writer.drain()

        async with raw_server(sender) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            received, paused, most_buffered = bytearray(), False, 0
            while piece := await stream.read(16384, timeout=5):
                received += piece
                paused = paused or stream.protocol.reading_paused
                most_buffered = max(most_buffered, len(stream.protocol.buffer))
                await asyncio.sleep(0)  # the socket delivers more than the reader takes
            assert received == body
            assert paused and most_buffered <= HIGH_WATER + LARGEST_RECEIVE
            assert await stream.read(16384) == b""  # and again at the end
            await stream.aclose()

    run(scenario())


def test_a_unix_socket_connection(run, tmp_path: Path):
    async def scenario():
        async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write((await reader.readline()).upper())

        path = str(tmp_path / "upstream.sock")
        async with raw_server(shout, unix_path=path):
            stream = await AsyncioBackend().connect_unix_socket(path, timeout=5)
            await stream.write(b"hello\n")
            assert await stream.read(100, timeout=5) == b"HELLO\n"
            assert await stream.read(100, timeout=5) == b""
            await stream.aclose()

    run(scenario())


# -- TLS ------------------------------------------------------------------------------------------


@dataclass
class Certificate:
    certfile: Path
    keyfile: Path
    server: ssl.SSLContext
    #: A client context that trusts the certificate (it is self-signed).
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    directory = tmp_path_factory.mktemp("tls")
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(certificate_pem)
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certfile, keyfile)
    return Certificate(certfile, keyfile, server, ssl.create_default_context(cadata=certificate_pem.decode()))


def test_an_https_upstream(run, certificate: Certificate):
    body = pattern(LARGE // 4)

    async def answer(request: Request) -> bool:
        if request.path == "/large":
            respond(request.writer, body, "application/octet-stream")
            return True
        return await hello(request)

    async def scenario():
        async with (
            http_server(answer, tls=certificate.server) as server,
            UpstreamClient(base_url=server.url, verify=certificate.client) as client,
        ):
            response = await client.get("/")
            assert response.text == "hello /"
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("socket").getpeername() == stream.get_extra_info("server_addr")
            assert (await client.post("/echo", content=body, headers={"content-type": "x/y"})).content == body
            assert (await client.get("/large")).content == body
            assert server.connections == 1
        # The stream's details, as httpcore's backends give them, still there once it is closed.
        assert stream.get_extra_info("ssl_object").version().startswith("TLS")
        assert stream.get_extra_info("server_addr")[:2] == ("127.0.0.1", int(server.url.rsplit(":", 1)[1]))
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("is_readable") is True  # closed: at its end

    run(scenario())


async def body_size(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering with the request's HTTP version and the size of its body."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    size, more = 0, True
    while more:
        message = await receive()
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"HTTP/{scope['http_version']} {size}".encode()})


def test_concurrent_uploads_share_one_http2_connection(run, certificate: Certificate):
    """HTTP/2 (chosen by ALPN, read from ``ssl_object``) has a reader and writers waiting on one stream."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    body = pattern(LARGE // 8)

    async def scenario():
        with socket.create_server(("127.0.0.1", 0)) as sock:
            config = Config()
            config.bind = [f"fd://{os.dup(sock.fileno())}"]  # hypercorn closes the descriptor it is given
            config.certfile, config.keyfile = str(certificate.certfile), str(certificate.keyfile)
            config.accesslog = config.errorlog = None
            stop = asyncio.Event()
            serving = asyncio.create_task(serve(body_size, config, shutdown_trigger=stop.wait))
            url = f"https://127.0.0.1:{sock.getsockname()[1]}/"
            try:
                async with UpstreamClient(http2=True, verify=certificate.client) as client:
                    answers = await asyncio.gather(*(client.post(url, content=body) for _ in range(8)))
                    assert [answer.text for answer in answers] == [f"HTTP/2 {len(body)}"] * 8
                    assert len(client._transport._pool.connections) == 1
            finally:
                stop.set()
                await serving

    run(scenario())


def test_an_untrusted_certificate_is_a_connect_error(run, certificate: Certificate):
    async def scenario():
        async with http_server(hello, tls=certificate.server) as server, UpstreamClient() as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(server.url)

    run(scenario())


def test_bytes_received_before_the_tls_handshake_are_refused(run, certificate: Certificate):
    async def scenario():
        async def early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"not a TLS server hello")
            await reader.read()

        async with raw_server(early) as port:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            assert await stream.protocol.wait_readable(timeout=5)
            with pytest.raises(httpcore.ConnectError, match="before the TLS handshake"):
                await stream.start_tls(certificate.client, server_hostname="localhost", timeout=5)

    run(scenario())


# -- which clients get the backend ----------------------------------------------------------------


def test_only_the_default_transport_is_replaced(run, monkeypatch: pytest.MonkeyPatch):
    async def scenario():
        own = httpx.AsyncHTTPTransport()
        async with UpstreamClient(transport=own) as client:
            assert client._transport is own
        async with UpstreamClient(proxy="http://127.0.0.1:3128") as client:
            (proxied,) = client._mounts.values()
            assert isinstance(proxied._pool, httpcore.AsyncHTTPProxy)
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
        async with UpstreamClient() as client:
            assert isinstance(client._transport._pool._network_backend, AsyncioBackend)
            assert [type(mount._pool) for mount in client._mounts.values()] == [httpcore.AsyncHTTPProxy]

    run(scenario())
