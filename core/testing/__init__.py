"""Pytest fixtures for colonnade and its plugins, loaded through the ``pytest11`` entry point.

Installing colonnade makes these fixtures available to every test suite, so a third-party plugin's tests
need no ``conftest.py``:

``settings``
    A fresh :class:`~colonnade.settings.Settings` per test: a temporary data directory and SQLite file,
    a random signing secret, cheap argon2 parameters and no entry-point plugins. The fixture is
    parametrised over the storage backends: ``sqlite`` always, ``postgres`` when
    ``COLONNADE_TEST_POSTGRES_URL`` is set (each test gets its own schema, dropped afterwards), and is
    otherwise skipped with a visible reason.
``make_app``
    ``await make_app(config=..., plugins=[...], load_plugins=[...], block_plugins=[...], upstreams={...})``
    builds an application on top of ``settings`` and runs its start-up (migrations, ``startup`` hooks);
    shutdown happens at teardown.
``app`` / ``client``
    ``await make_app()`` with the defaults, and its test client.
``auth_headers``
    ``await auth_headers(app, role="user")`` creates a user and returns headers carrying a real token.
``fake_upstream``
    ``await fake_upstream(quart_app_or_name)`` serves a fake upstream on 127.0.0.1 through hypercorn and
    returns a :class:`RunningUpstream` with ``base_url`` and the ``requests`` it received.
``serve_app``
    ``await serve_app(app)`` serves an app ``make_app`` started on 127.0.0.1 through hypercorn and
    returns its base URL, for clients that need a real server (the ``openai`` SDK, streaming).

Heavy imports happen inside the fixtures so that loading this plugin costs nothing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

#: Environment variable naming the PostgreSQL server the storage tests also run against.
POSTGRES_URL_VARIABLE = "COLONNADE_TEST_POSTGRES_URL"

#: Cheapest argon2 parameters the settings accept: tests hash many passwords.
FAST_ARGON2 = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``, nested tables merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _backends() -> list[Any]:
    reason = f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (make test sets it in CI)"
    postgres_marks = [] if os.environ.get(POSTGRES_URL_VARIABLE) else [pytest.mark.skip(reason=reason)]
    return ["sqlite", pytest.param("postgres", marks=postgres_marks)]


@pytest.fixture(params=_backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: the storage backend this test runs on."""
    return request.param


@pytest.fixture
def base_config(database_backend: str, tmp_path: Any) -> dict[str, Any]:
    """The configuration (as TOML would give it) that ``settings`` and ``make_app`` start from."""
    database: dict[str, Any] = {}
    if database_backend == "postgres":
        database = {
            "url": os.environ[POSTGRES_URL_VARIABLE],
            "schema_name": f"test_{uuid.uuid4().hex[:16]}",
            "pool_max_size": 4,
        }
    return {
        "server": {"data_dir": str(tmp_path / "data")},
        "database": database,
        "auth": {"secret_key": secrets.token_urlsafe(32), **FAST_ARGON2},
        "host": {"load_plugins": []},
    }


@pytest.fixture
def settings(base_config: dict[str, Any]) -> Any:
    from colonnade.settings import Settings

    return Settings.from_dict(base_config)


@pytest_asyncio.fixture
async def make_app(base_config: dict[str, Any]) -> AsyncIterator[Any]:
    """An async factory of started applications; every one is shut down at teardown."""
    from colonnade.app import create_app
    from colonnade.settings import Settings

    started: list[Any] = []
    schemas: list[Any] = []

    async def factory(
        config: Mapping[str, Any] | None = None,
        *,
        plugins: Iterable[Any] = (),
        load_plugins: list[str] | None = None,
        block_plugins: list[str] | None = None,
        upstreams: Mapping[str, str] | None = None,
    ) -> Any:
        merged = deep_merge(base_config, config or {})
        if load_plugins is not None:
            merged = deep_merge(merged, {"host": {"load_plugins": list(load_plugins)}})
        if block_plugins is not None:
            merged = deep_merge(merged, {"host": {"block_plugins": list(block_plugins)}})
        app_settings = Settings.from_dict(merged)
        app = create_app(app_settings, plugins=plugins, upstreams=upstreams, testing=True)
        test_app = app.test_app()
        if app_settings.database.schema_name:
            schemas.append(app_settings)
        try:
            await test_app.__aenter__()
        except Exception as error:
            # Quart's lifespan wraps a failed start in LifespanError; raise the StartupError itself.
            cause = app.extensions["colonnade"].startup_error
            if cause is not None and cause is not error:
                raise cause from None
            raise
        started.append(test_app)
        return app

    yield factory

    from colonnade import db

    for test_app in reversed(started):
        await test_app.__aexit__(None, None, None)
    for app_settings in schemas:
        await db.drop_postgres_schema(app_settings)


@pytest_asyncio.fixture
async def app(make_app: Any) -> Any:
    return await make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def auth_headers() -> Any:
    """``await auth_headers(app, role="user", user_id=None, email=None)`` -> ``{"Authorization": ...}``.

    Creates the user (or reuses ``user_id`` when it exists) and mints a real session token for it.
    """
    from colonnade.auth.models import User

    async def headers_for(
        app: Any, role: str = "user", user_id: str | None = None, email: str | None = None
    ) -> dict[str, str]:
        service = app.extensions["colonnade"].state("auth").service
        user = await User.get_or_none(id=user_id) if user_id else None
        if user is None:
            extra = {"id": user_id} if user_id else {}
            address = email or f"{role}-{uuid.uuid4().hex[:8]}@example.test"
            user = await service.create_user(email=address, name=address, password=None, role=role, **extra)
        return {"Authorization": f"Bearer {service.issue(user).token}"}

    return headers_for


@dataclass
class RecordedRequest:
    """One request a fake upstream received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class RunningUpstream:
    """A fake upstream served on loopback for the duration of a test."""

    app: Any
    base_url: str
    requests: list[RecordedRequest] = field(default_factory=list)


def _load_named_fake(name: str) -> Any:
    from colonnade.testing import fakes

    try:
        factory = fakes.FAKES[name]
    except KeyError:
        from colonnade.registry import did_you_mean

        raise LookupError(
            f"no fake upstream named {name!r}{did_you_mean(name, sorted(fakes.FAKES))}"
        ) from None
    return factory()


@pytest_asyncio.fixture
async def fake_upstream() -> AsyncIterator[Any]:
    """``await fake_upstream(app_or_name)`` -> :class:`RunningUpstream`, stopped at teardown."""
    from hypercorn.asyncio import serve
    from quart import request

    running: list[tuple[asyncio.Event, asyncio.Task[None], socket.socket]] = []

    async def start(fake: Any) -> RunningUpstream:
        fake_app = _load_named_fake(fake) if isinstance(fake, str) else fake
        sock = _listening_socket()
        upstream = RunningUpstream(fake_app, f"http://127.0.0.1:{sock.getsockname()[1]}")
        ready = asyncio.Event()
        stop = asyncio.Event()

        @fake_app.before_serving
        async def _ready() -> None:
            ready.set()

        @fake_app.before_request
        async def _record() -> None:
            upstream.requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    dict(request.args),
                    dict(request.headers),
                    await request.get_data(),
                )
            )

        task = asyncio.create_task(serve(fake_app, _quiet_config(sock), shutdown_trigger=stop.wait))
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready_wait.cancel()
            sock.close()
            task.result()  # raises the start-up error
            raise RuntimeError("the fake upstream stopped before it was ready")
        running.append((stop, task, sock))
        return upstream

    yield start

    for stop, task, sock in reversed(running):
        stop.set()
        await task
        sock.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of an S3-compatible server on 127.0.0.1 (moto's server mode, an ephemeral port),
    one for the whole test session: give each test a bucket of its own. Needs ``moto[server]``."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest_asyncio.fixture
async def serve_app() -> AsyncIterator[Any]:
    """``await serve_app(app)`` -> the base URL of an app ``make_app`` started, served by hypercorn on
    127.0.0.1, for clients that need a real server (the ``openai`` SDK, streaming). Its lifespan is not
    run again. The socket listens before hypercorn starts, so a client may connect at once (no polling).
    Stopped at teardown. hypercorn is adjusted as ``colonnade serve`` adjusts it
    (:mod:`colonnade.hypercorn_adjustments`)."""
    from hypercorn.asyncio import serve

    from colonnade.hypercorn_adjustments import adjust_hypercorn

    adjust_hypercorn()
    running: list[tuple[asyncio.Event, asyncio.Task[None], socket.socket]] = []

    async def start(app: Any) -> str:
        sock = _listening_socket()
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve(_without_lifespan(app), _quiet_config(sock), shutdown_trigger=stop.wait)
        )
        running.append((stop, task, sock))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start

    for stop, task, sock in reversed(running):
        stop.set()
        await task
        sock.close()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connections to it are refused (an upstream that
    is down)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _quiet_config(sock: socket.socket) -> Any:
    """hypercorn's configuration for serving on ``sock``: no logs, a short graceful stop."""
    from hypercorn.config import Config

    config = Config()
    # hypercorn takes ownership of the descriptor it is given and closes it at shutdown.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5
    return config


def _without_lifespan(app: Any) -> Any:
    """``app`` as an ASGI callable whose lifespan is a no-op: ``make_app`` already started it."""

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
