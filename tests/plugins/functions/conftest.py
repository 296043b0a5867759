"""Fixtures for the functions tests: an app with completions and functions, signed-in users, and the
app served by hypercorn on loopback for the real ``openai`` client."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio


@dataclass
class FunctionsEnv:
    """A started app with the ``completions`` and ``functions`` plugins, its client, an admin and a user."""

    app: Any
    client: Any
    admin: dict[str, str]
    user: dict[str, str]

    @property
    def host(self) -> Any:
        return self.app.extensions["colonnade"]

    @property
    def registry(self) -> Any:
        return self.host.state("functions").registry


@pytest_asyncio.fixture
async def functions_env(make_app: Any, auth_headers: Any):
    """``await functions_env(config={...}, load_plugins=[...], plugins=[...], completions={...})`` ->
    :class:`FunctionsEnv` (``config`` is ``[plugins.functions]``, ``completions`` adds to
    ``[plugins.completions]``)."""

    async def factory(
        config: dict | None = None,
        load_plugins: list[str] = (),
        plugins: list[Any] = (),
        completions: dict | None = None,
    ) -> FunctionsEnv:
        completions = {"models_cache_ttl": 0, **(completions or {})}
        app = await make_app(
            config={"plugins": {"functions": config or {}, "completions": completions}},
            load_plugins=["completions", "functions", *load_plugins],
            plugins=list(plugins),
        )
        admin = await auth_headers(app, role="admin")
        user = await auth_headers(app, role="user")
        return FunctionsEnv(app, app.test_client(), admin, user)

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
    """``await serve(app)`` -> base URL of the started app served by hypercorn on loopback (the socket
    listens before hypercorn starts, so clients may connect at once)."""
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
