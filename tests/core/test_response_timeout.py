"""``server.response_timeout``: no limit by default, so long streams are not cut; a set one cuts them.

Quart cuts every response after ``RESPONSE_TIMEOUT`` (60 s by default), streamed body included, which
would end a long completions stream or download mid-way. The application is served by hypercorn on
loopback and read with httpx. Nothing sleeps: the streamed body waits on an ``asyncio.Event`` that the
test sets, and "longer than the tiny timeout" is witnessed by a bare Quart app with the same tiny
timeout whose stream has been cut meanwhile.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from quart import Blueprint, Quart

from colonnade import hookimpl
from colonnade.app import create_app
from colonnade.settings import Settings

TINY = 0.2  # seconds; long enough for the headers to go out even on a busy machine


class Streamer:
    """A plugin streaming ``first``, then ``second`` once ``gate`` is set."""

    __name__ = "streamer"

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    @hookimpl
    def register_blueprints(self):
        bp = Blueprint("streamer", __name__)

        @bp.get("/api/stream")
        async def stream():
            return gated_body(self.gate), 200, {"Content-Type": "text/plain"}

        return [bp]


async def gated_body(gate: asyncio.Event):
    yield b"first\n"
    await gate.wait()
    yield b"second\n"


def colonnade_app(tmp_path, streamer: Streamer, **server) -> Quart:
    settings = Settings.from_dict(
        {"server": {"data_dir": str(tmp_path / "data"), **server}, "host": {"load_plugins": []}}
    )
    return create_app(settings, plugins=[streamer], testing=True)


async def read_until_cut(client: httpx.AsyncClient, url: str) -> bytes:
    """Read a stream that the server cuts off; return what arrived before the cut."""
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received += chunk
    return received


@pytest.mark.asyncio
async def test_a_configured_response_timeout_cuts_a_long_stream(tmp_path, fake_upstream):
    streamer = Streamer()
    app = colonnade_app(tmp_path, streamer, response_timeout=TINY)
    assert app.config["RESPONSE_TIMEOUT"] == TINY
    server = await fake_upstream(app)

    async with httpx.AsyncClient(timeout=60) as client:
        received = await read_until_cut(client, f"{server.base_url}/api/stream")

    assert b"second" not in received  # the gate was never opened: cut while waiting on it


@pytest.mark.asyncio
async def test_long_streams_are_not_cut_by_default(tmp_path, fake_upstream):
    streamer = Streamer()
    app = colonnade_app(tmp_path, streamer)
    assert app.config["RESPONSE_TIMEOUT"] is None
    server = await fake_upstream(app)

    clock = Quart("clock")  # a bare Quart app cut at the tiny timeout: proof that it has elapsed
    clock.config["RESPONSE_TIMEOUT"] = TINY
    clock.add_url_rule("/stream", "stream", lambda: (gated_body(asyncio.Event()), 200))
    clock_server = await fake_upstream(clock)

    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream("GET", f"{server.base_url}/api/stream") as response,
    ):
        chunks = response.aiter_raw()
        assert await anext(chunks) == b"first\n"

        await read_until_cut(client, f"{clock_server.base_url}/stream")  # TINY has passed since
        streamer.gate.set()

        rest = b"".join([chunk async for chunk in chunks])
    assert rest == b"second\n"
