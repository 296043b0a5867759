"""Helpers for the openai plugin's tests (the fixtures are in ``conftest.py``)."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from typing import Any

UPSTREAM_KEY = "sk-upstream-secret-0123456789"


@dataclass
class Proxy:
    """A started application with the openai plugin, served on loopback."""

    app: Any
    url: str  # the application's root URL
    admin: dict[str, str]  # Authorization headers of an admin
    user: dict[str, str]  # ... and of a plain user
    clients: list[Any] = field(default_factory=list)  # SDK clients, closed at teardown

    def token(self, headers: dict[str, str]) -> str:
        return headers["Authorization"].removeprefix("Bearer ")

    def sdk(self, headers: dict[str, str] | None = None, prefix: str = "/openai") -> Any:
        """An ``openai.AsyncOpenAI`` client pointed at the proxy, signed in as ``headers`` (default: user)."""
        import openai

        client = openai.AsyncOpenAI(
            api_key=self.token(headers or self.user), base_url=self.url + prefix, max_retries=0, timeout=30
        )
        self.clients.append(client)
        return client


async def serve(app: Any, stop: asyncio.Event) -> tuple[str, asyncio.Task[None], socket.socket]:
    """Serve an already started ``app`` with hypercorn (its lifespan already ran: not run it again)."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # listening before hypercorn starts: early connections wait in the backlog
    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.accesslog = config.errorlog = None
    config.graceful_timeout = 1
    task = asyncio.create_task(hypercorn_serve(without_lifespan, config, shutdown_trigger=stop.wait))
    return f"http://127.0.0.1:{sock.getsockname()[1]}", task, sock


def connection(fake: Any, **extra: Any) -> dict[str, Any]:
    """A ``[[plugins.openai.connections]]`` entry for a fake upstream."""
    return {"base_url": fake.base_url + "/v1", "api_key": UPSTREAM_KEY, **extra}


def posts(fake: Any) -> list[Any]:
    """The POST requests a fake received (model-list fetches left out)."""
    return [recorded for recorded in fake.requests if recorded.method == "POST"]


