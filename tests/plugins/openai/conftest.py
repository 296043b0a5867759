"""Fixtures for the openai plugin's tests: fake upstreams on loopback, and the application itself served
by hypercorn on loopback so that real clients (the ``openai`` SDK, httpx) talk to it over sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest_asyncio
from openai_helpers import UPSTREAM_KEY, Proxy, serve


@pytest_asyncio.fixture
async def proxy(make_app: Any, auth_headers: Any) -> Any:
    """``await proxy([connection, ...], load_plugins=(...), **openai_options)`` -> :class:`Proxy`, stopped at teardown."""
    running: list[tuple[asyncio.Event, asyncio.Task[None], socket.socket]] = []
    proxies: list[Proxy] = []

    async def factory(
        connections: list[dict[str, Any]],
        *,
        load_plugins: tuple[str, ...] = (),
        plugins_config: dict[str, Any] | None = None,
        **options: Any,
    ) -> Proxy:
        config = {"plugins": {"openai": {"connections": connections, **options}, **(plugins_config or {})}}
        app = await make_app(config=config, load_plugins=["openai", *load_plugins])
        stop = asyncio.Event()
        url, task, sock = await serve(app, stop)
        running.append((stop, task, sock))
        served = Proxy(app, url, await auth_headers(app, role="admin"), await auth_headers(app, role="user"))
        proxies.append(served)
        return served

    yield factory

    for served in proxies:
        for client in served.clients:
            await client.close()
    for stop, task, sock in reversed(running):
        stop.set()
        await task
        sock.close()


@pytest_asyncio.fixture
async def upstream(fake_upstream: Any) -> Any:
    """A fake OpenAI upstream that wants :data:`UPSTREAM_KEY`."""
    fake = await fake_upstream("openai")
    fake.app.control.api_key = UPSTREAM_KEY
    return fake
