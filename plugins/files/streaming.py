"""Pull-based request bodies for the upload routes.

Quart's own request body is filled by a task that drains the server as fast as the client sends and
buffers whatever the view has not consumed yet, without backpressure; when a store is slower than the
network (S3 over a WAN), that buffer grows, and past ``MAX_CONTENT_LENGTH`` Quart answers 413. That limit
also applies to the whole upload when the client sends ``Content-Length``, so the server-wide body limit
would cap file sizes.

So for ``POST`` on the upload paths only, a thin ASGI middleware hands Quart an empty body and gives the
view the server's ``receive`` instead (:class:`RawBody`): the view pulls one message at a time, the
server's bounded queue fills, and TCP flow control slows the client down. Memory stays flat whatever the
file size, and the files plugin applies its own size limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

#: The scope key under which the middleware leaves the :class:`RawBody` for the view.
RAW_BODY_KEY = "colonnade.files.raw_body"

Receive = Callable[[], Awaitable[dict[str, Any]]]


class ClientDisconnected(Exception):
    """The client went away before sending the whole body."""


class BodyStalled(Exception):
    """No data arrived for longer than the idle timeout."""


class RawBody:
    """The body of one request, read straight from the ASGI server.

    :param receive: The server's ``receive`` callable.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.complete = False

    async def chunks(self, idle_timeout: float | None = None) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; raise :class:`ClientDisconnected` or :class:`BodyStalled`."""
        while not self.complete:
            try:
                message = await asyncio.wait_for(self._receive(), idle_timeout)
            except TimeoutError:
                raise BodyStalled() from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            if message["type"] != "http.request":
                continue
            if not message.get("more_body", False):
                self.complete = True
            body = message.get("body", b"")
            if body:
                yield body


def request_path(scope: dict[str, Any]) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def install_raw_body_middleware(app: Any, paths: Iterable[str]) -> None:
    """Wrap ``app.asgi_app`` so that ``POST`` requests to ``paths`` carry a :class:`RawBody`.

    Idempotent: installing twice on one application wraps it once.
    """
    if app.extensions.get(RAW_BODY_KEY):
        return
    app.extensions[RAW_BODY_KEY] = True
    paths = frozenset(paths)
    inner = app.asgi_app

    async def asgi_app(scope: dict[str, Any], receive: Receive, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or request_path(scope) not in paths:
            await inner(scope, receive, send)
            return
        await inner({**scope, RAW_BODY_KEY: RawBody(receive)}, _empty_body(), send)

    app.asgi_app = asgi_app


def _empty_body() -> Receive:
    """A ``receive`` that gives Quart an empty, complete body and then nothing more.

    It never reports a disconnect: Quart would cancel the view, possibly between storing the bytes and
    writing the record; the view notices a disconnect itself, while it reads the body.
    """
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Future()  # until Quart cancels its reader, once the response is sent
        raise AssertionError("unreachable")

    return receive
