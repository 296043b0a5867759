"""``InlineHTTPConnection`` and ``CompleteBodyRequest``: a request is handled in the task the server
calls the application in, a body that came with the request is complete before the view asks for it,
and a view sees what it saw under Quart's own connection: its body, a body timeout, and cancellation
when the client goes.

The application is called the way hypercorn calls it (an ASGI call in a task of its own), with
``receive`` and ``send`` that the tests drive.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart import Quart, request
from quart.asgi import ASGIHTTPConnection

from colonnade.fastpaths import CompleteBodyRequest, InlineHTTPConnection, install_fast_paths


class Client:
    """One ASGI request: the body in ``parts``, then a disconnect once ``disconnect`` is set."""

    def __init__(self, parts: list[bytes], fail: Exception | None = None, *, held: bool = False) -> None:
        self.parts = list(parts)
        self.fail = fail
        #: Set to let the body through (``held``: not before; a client that is slow to send it).
        self.body_sent = asyncio.Event()
        if not held:
            self.body_sent.set()
        self.disconnect = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.parts:
            await self.body_sent.wait()
            body = self.parts.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(self.parts)}
        if self.fail is not None:
            raise self.fail
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.sent[1:])


def scope(method: str = "GET", path: str = "/", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "extensions": {},
    }


@pytest.fixture
def app() -> Quart:
    app = Quart(__name__)
    install_fast_paths(app)
    app.seen: dict[str, Any] = {}  # type: ignore[attr-defined]

    @app.get("/task")
    async def which_task():
        app.seen["task"] = asyncio.current_task()
        return "ok"

    @app.post("/echo")
    async def echo():
        return await request.get_data()

    @app.post("/waits")
    async def waits():
        """Whether reading the body let the event loop run anything else."""
        ran: list[bool] = []
        asyncio.get_running_loop().call_soon(ran.append, True)
        text = await request.get_data(as_text=True)
        return {"text": text, "waited": bool(ran)}

    @app.get("/stubborn")
    async def stubborn():
        app.seen["started"].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            app.seen["cancelled"] = True
        return "finished anyway"

    @app.get("/forever")
    async def forever():
        app.seen["started"].set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            app.seen["cancelled"] = True
            raise
        return "never"

    return app


async def start_waiting_view(app: Quart, path: str) -> tuple[Client, asyncio.Task[None]]:
    """The server's task calling ``app`` for ``path`` (a view that sets ``started``, then waits), once
    the view is waiting."""
    app.seen["started"] = asyncio.Event()
    client = Client([b""])
    server_task = asyncio.create_task(app(scope(path=path), client.receive, client.send))
    await app.seen["started"].wait()
    return client, server_task


def test_install_fast_paths_makes_them_the_applications_connection_and_request(app):
    assert app.asgi_http_class is InlineHTTPConnection
    assert issubclass(InlineHTTPConnection, ASGIHTTPConnection)
    assert issubclass(app.request_class, CompleteBodyRequest)
    install_fast_paths(app)  # again: the request class is not wrapped twice
    assert app.request_class.__mro__.count(CompleteBodyRequest) == 1


def length(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"test"), (b"content-length", str(len(body)).encode())]


@pytest.mark.asyncio
async def test_a_body_that_came_with_the_request_is_read_without_waiting(app):
    """hypercorn queues the body, then (a message later) its end: the body is complete once all of its
    Content-Length is in, before the end message is read."""
    client = Client([b'{"a": 1}', b""])
    await app(scope("POST", "/waits", length(b'{"a": 1}')), client.receive, client.send)
    assert json.loads(client.body()) == {"text": '{"a": 1}', "waited": False}


@pytest.mark.asyncio
async def test_a_body_without_a_length_is_waited_for_until_its_end(app):
    client = Client([b"part one, ", b"part two"])
    await app(scope("POST", "/waits"), client.receive, client.send)
    assert json.loads(client.body()) == {"text": "part one, part two", "waited": True}


@pytest.mark.asyncio
async def test_a_body_slow_to_start_is_still_read_whole(app):
    client = Client([b"late ", b"body"], held=True)
    server_task = asyncio.create_task(app(scope("POST", "/echo"), client.receive, client.send))
    await asyncio.sleep(0)
    assert not client.sent
    client.body_sent.set()
    await server_task
    assert client.body() == b"late body"


@pytest.mark.asyncio
async def test_a_body_that_never_comes_times_out_as_in_quart(app):
    app.config["BODY_TIMEOUT"] = 0.01
    client = Client([b"never"], held=True)
    await app(scope("POST", "/echo", length(b"never")), client.receive, client.send)
    assert client.sent[0]["status"] == 408


@pytest.mark.asyncio
async def test_a_client_gone_before_its_request_is_read_is_not_handled(app):
    client = Client([])
    client.disconnect.set()
    await app(scope(path="/task"), client.receive, client.send)
    assert "task" not in app.seen
    assert client.sent == []


@pytest.mark.asyncio
async def test_get_data_keeps_quarts_options_on_a_complete_body(app):
    @app.post("/options")
    async def options():
        text = await request.get_data(cache=False, as_text=True)
        return {"text": text, "again": await request.get_data(as_text=True)}

    client = Client([b"caf\xc3\xa9", b""])
    await app(scope("POST", "/options", length(b"caf\xc3\xa9")), client.receive, client.send)
    assert json.loads(client.body()) == {"text": "café", "again": ""}


@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_still_refused(app):
    app.config["MAX_CONTENT_LENGTH"] = 4
    client = Client([b"too long", b""])
    await app(scope("POST", "/echo", length(b"too long")), client.receive, client.send)
    assert client.sent[0]["status"] == 413


@pytest.mark.asyncio
async def test_the_view_runs_in_the_servers_task_and_nothing_is_left_running(app):
    client = Client([b""])
    server_task = asyncio.create_task(app(scope(path="/task"), client.receive, client.send))
    await server_task
    assert app.seen["task"] is server_task
    assert client.sent[0]["status"] == 200 and client.body() == b"ok"
    assert asyncio.all_tasks() == {asyncio.current_task()}  # the body reader was cancelled and awaited


@pytest.mark.asyncio
async def test_quarts_own_connection_runs_the_view_in_another_task(app):
    """What the class changes (and so what the test above would catch going back)."""
    app.asgi_http_class = ASGIHTTPConnection
    client = Client([b""])
    server_task = asyncio.create_task(app(scope(path="/task"), client.receive, client.send))
    await server_task
    assert app.seen["task"] is not server_task


@pytest.mark.asyncio
async def test_a_body_in_several_messages_reaches_the_view_whole(app):
    client = Client([b"one ", b"two ", b"three"])
    await app(scope("POST", "/echo"), client.receive, client.send)
    assert client.body() == b"one two three"


@pytest.mark.asyncio
async def test_a_disconnect_cancels_the_view_and_the_call_returns(app):
    client, server_task = await start_waiting_view(app, "/forever")
    client.disconnect.set()
    await server_task  # no CancelledError: the server's task goes on as after a finished request
    assert app.seen["cancelled"] is True
    assert not server_task.cancelled()
    assert server_task.cancelling() == 0


@pytest.mark.asyncio
async def test_a_view_that_goes_on_after_the_disconnect_leaves_the_task_not_cancelling(app):
    client, server_task = await start_waiting_view(app, "/stubborn")
    client.disconnect.set()
    await server_task
    assert app.seen["cancelled"] is True
    assert client.body() == b"finished anyway"
    assert server_task.cancelling() == 0


@pytest.mark.asyncio
async def test_the_server_cancelling_its_task_still_cancels_it(app):
    _, server_task = await start_waiting_view(app, "/forever")
    server_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server_task
    assert app.seen["cancelled"] is True
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_the_server_cancelling_as_the_client_goes_is_not_swallowed(app):
    client, server_task = await start_waiting_view(app, "/forever")
    client.disconnect.set()
    await asyncio.sleep(0)  # one turn: the reader takes the disconnect and is about to cancel the view
    server_task.cancel()  # while the server cancels its task too
    with pytest.raises(asyncio.CancelledError):
        await server_task


@pytest.mark.asyncio
async def test_a_failure_reading_the_body_cancels_the_view_and_is_raised(app):
    app.seen["started"] = asyncio.Event()
    client = Client([b""], fail=RuntimeError("the connection broke"))
    with pytest.raises(RuntimeError, match="the connection broke"):
        await app(scope(path="/forever"), client.receive, client.send)
    assert app.seen["cancelled"] is True
