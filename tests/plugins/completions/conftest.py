"""Fixtures for the completions tests: a scripted in-test LLM provider and the app served over HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from completions_helpers import Scripted


@pytest_asyncio.fixture
async def completions_app(make_app: Any):
    """``await completions_app(*providers, config=..., load_plugins=[...], plugins=[...])`` -> started app."""

    async def factory(
        *providers: Any, config: dict | None = None, load_plugins: list[str] = (), plugins: list[Any] = ()
    ) -> Any:
        return await make_app(
            config={"plugins": {"completions": config or {}}},
            load_plugins=["completions", *load_plugins],
            plugins=[Scripted(*providers), *plugins],
        )

    return factory


def _without_lifespan(app: Any) -> Any:
    """The app as an ASGI callable whose lifespan is a no-op: ``make_app`` already started it."""

    async def asgi(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return asgi


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Any]:
    """``await serve(app)`` -> base URL of the started app served by hypercorn on loopback.

    The socket is bound and listening before hypercorn starts, so a client may connect at once: the
    kernel queues the connection until hypercorn accepts it (no readiness polling, no sleeps).
    """
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    running: list[tuple[asyncio.Event, asyncio.Task[None], socket.socket]] = []

    async def start(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        config = Config()
        config.bind = [f"fd://{os.dup(sock.fileno())}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = 0.5
        stop = asyncio.Event()
        task = asyncio.create_task(
            hypercorn_serve(_without_lifespan(app), config, shutdown_trigger=stop.wait)
        )
        running.append((stop, task, sock))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start

    for stop, task, sock in reversed(running):
        stop.set()
        await task
        sock.close()
