"""Serving the application with hypercorn: one process in-process, or several spawned workers.

One worker (the default) runs hypercorn inside this process through ``hypercorn.asyncio.serve``, which
is the lightest way to serve (one interpreter, about 60 MB). Left to its defaults, an in-process
hypercorn installs no signal handlers, so SIGTERM (``docker stop``) would kill it mid-request; here a
``shutdown_trigger`` bound to SIGTERM and SIGINT stops it gracefully: no new connections, in-flight
requests get ``server.graceful_timeout`` seconds to finish, then the shutdown hooks run.

Several workers go through hypercorn's own supervisor (``hypercorn.run.run``), which spawns fresh
interpreters that each import :func:`worker_app`. They rebuild the settings from the same environment
(the command-line overrides are exported as ``COLONNADE_*`` variables before spawning). Before that,
:func:`check_startup` starts and stops the application once in the supervisor: configuration, plugin
and database problems stop the start there with one line, and pending migrations are applied once, so
workers never race each other on the schema.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colonnade.errors import StartupError
from colonnade.hypercorn_adjustments import adjust_hypercorn
from colonnade.registry import did_you_mean

if TYPE_CHECKING:
    from hypercorn.config import Config
    from quart import Quart

    from colonnade.settings import Settings

log = logging.getLogger("colonnade.serve")

#: What hypercorn's supervisor imports in each spawned worker (hypercorn evaluates the part after ':').
WORKER_APPLICATION_PATH = "colonnade.serving:worker_app()"

#: hypercorn settings colonnade manages itself; ``[server.hypercorn]`` may not set them.
MANAGED_HYPERCORN_KEYS = {
    "application_path": "it is chosen by colonnade",
    "workers": "use server.workers",
    "worker_class": "use server.event_loop",
}

#: The file a spawned worker that fails to start appends its message to, named in its environment.
WORKER_FAILURES_VARIABLE = "COLONNADE_SERVE_WORKER_FAILURES"

LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Send colonnade's and hypercorn's logs to stderr at ``level``, one format for both."""
    root = logging.getLogger()
    if not any(getattr(handler, "_colonnade", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%d %H:%M:%S"))
        handler._colonnade = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())


def hypercorn_config(settings: Settings) -> Config:
    """The hypercorn ``Config`` for ``settings``, with ``[server.hypercorn]`` applied last.

    :raises StartupError: For an unknown hypercorn setting (with a did-you-mean) or one colonnade manages.
    """
    from hypercorn.config import Config

    server = settings.server
    config = Config()
    host = f"[{server.host}]" if ":" in server.host else server.host
    config.bind = [f"{host}:{server.port}"]
    config.workers = server.workers
    config.worker_class = event_loop_name(server.event_loop)
    config.graceful_timeout = server.graceful_timeout
    config.loglevel = server.log_level.upper()
    # A Logger object (not "-") makes hypercorn log through the root handler configured above, so its
    # lines look like ours; spawned workers get it back by name when the config is unpickled.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.accesslog = None
    config.application_path = WORKER_APPLICATION_PATH
    known = sorted(
        name for name in dir(Config) if not name.startswith("_") and not callable(getattr(Config, name))
    )
    for key, value in server.hypercorn.items():
        if key in MANAGED_HYPERCORN_KEYS:
            raise StartupError(f"server.hypercorn.{key} cannot be set: {MANAGED_HYPERCORN_KEYS[key]}")
        if key not in known:
            raise StartupError(f"server.hypercorn.{key}: unknown hypercorn setting{did_you_mean(key, known)}")
        setattr(config, key, value)
    return config


def event_loop_name(choice: str) -> str:
    """``uvloop`` or ``asyncio`` for ``server.event_loop``.

    :raises StartupError: When uvloop is asked for by name and is not installed.
    """
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise StartupError(
                "server.event_loop is uvloop, which is not installed (pip install uvloop)"
            ) from None
        return "asyncio"
    return "uvloop"


def new_event_loop(worker_class: str) -> asyncio.AbstractEventLoop:
    if worker_class == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def describe_startup_failure(error: BaseException) -> str:
    """One line for the operator: the ``StartupError`` message as is, anything else with its type."""
    if isinstance(error, StartupError):
        return str(error)
    return f"start-up failed: {type(error).__name__}: {error}"


def serve_in_process(app: Quart, settings: Settings) -> None:
    """Serve ``app`` in this process until SIGTERM or SIGINT, then stop gracefully.

    :raises StartupError: When the application's start-up (migrations, ``startup`` hooks) fails.
    """
    from hypercorn.utils import LifespanFailureError

    config = hypercorn_config(settings)
    sockets = bind_sockets(config)
    failure: list[BaseException] = []
    catch_startup_failure(app, failure.append)
    freeze_after_startup(app)
    adjust_hypercorn()
    try:
        with asyncio.Runner(loop_factory=lambda: new_event_loop(config.worker_class)) as runner:
            runner.run(_serve_until_signalled(app, config))
    except LifespanFailureError as error:
        raise StartupError(describe_startup_failure(failure[0]) if failure else str(error)) from None
    finally:
        for sock in sockets:
            sock.close()


def bind_sockets(config: Config) -> list[socket.socket]:
    """Bind the listening sockets before the application starts; hypercorn gets duplicates (``fd://``).

    hypercorn itself binds only after the application's start-up has run, so a port already in use
    would raise with the application started and never stopped (its database thread then keeps the
    process alive). Bound here, it is one line and nothing has started yet. The TLS files are loaded
    here too, for the same reason.

    :return: The sockets, to close once serving is over.
    :raises StartupError: When an address cannot be bound.
    """
    if config.ssl_enabled:
        try:
            config.create_ssl_context()
        except (OSError, ssl.SSLError) as error:
            raise StartupError(f"server.hypercorn: cannot load the TLS certificate or key: {error}") from None
    try:
        sockets = config.create_sockets()
    except OSError as error:
        addresses = ", ".join([*config.bind, *config.insecure_bind])
        raise StartupError(f"cannot listen on {addresses}: {error.strerror or error}") from None

    def duplicates(bound: list[socket.socket]) -> list[str]:
        return [f"fd://{os.dup(sock.fileno())}" for sock in bound]

    if config.ssl_enabled:
        config.bind = duplicates(sockets.secure_sockets)
        config.insecure_bind = duplicates(sockets.insecure_sockets)
        config.quic_bind = duplicates(sockets.quic_sockets)
    else:
        config.bind = duplicates(sockets.insecure_sockets)
    return [*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets]


async def check_startup(app: Quart) -> None:
    """Run ``app``'s start-up (migrations, ``startup`` hooks) and shutdown once, before spawning workers.

    :raises StartupError: When the start-up fails, with one line saying why.
    """
    catch_startup_failure(app, lambda _error: None)
    try:
        await app.startup()
    except BaseException as error:
        raise StartupError(describe_startup_failure(error)) from None
    await app.shutdown()


def catch_startup_failure(app: Quart, on_failure: Callable[[BaseException], object]) -> None:
    """Hand a failed start-up's exception to ``on_failure`` instead of a logged traceback.

    Quart logs the traceback of a failed start-up and tells hypercorn only its text; the operator
    gets one line instead (the traceback stays visible with ``log_level = "debug"``).
    """
    original_startup = app.startup

    async def startup() -> None:
        quiet = None if log.isEnabledFor(logging.DEBUG) else _DropTracebacks()
        if quiet is not None:
            app.logger.addFilter(quiet)
        try:
            await original_startup()
        except BaseException as error:
            on_failure(error)
            raise
        finally:
            if quiet is not None:
                app.logger.removeFilter(quiet)

    app.startup = startup  # type: ignore[method-assign]


class _DropTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None


async def _serve_until_signalled(app: Quart, config: Config) -> None:
    from hypercorn.asyncio import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if not stop.is_set():
            log.info(
                "received %s: finishing in-flight requests (up to %s s), then stopping",
                signal.Signals(signum).name,
                config.graceful_timeout,
            )
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await serve(app, config, shutdown_trigger=stop.wait)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")


def serve_workers(app: Quart, settings: Settings, environment: dict[str, str]) -> int:
    """Serve through hypercorn's supervisor with ``settings.server.workers`` spawned processes.

    The sockets are bound and ``app`` is started and stopped once (:func:`check_startup`) before any
    worker is spawned; the workers build their own applications.

    :param environment: ``COLONNADE_*`` variables the workers need to rebuild the same settings (the
        config file path and command-line overrides); exported before the workers are spawned.
    :return: 0 after a graceful stop (SIGTERM/SIGINT); 2 when a worker failed to start (its message is
        printed above); 1 when workers ended on their own otherwise.
    :raises StartupError: When an address cannot be bound or the start-up check fails.
    """
    from hypercorn.run import run

    config = hypercorn_config(settings)
    sockets = bind_sockets(config)
    try:
        asyncio.run(check_startup(app))
        with tempfile.TemporaryDirectory(prefix="colonnade-serve-") as reports:
            failures = Path(reports) / "worker-failures"
            # check_startup applied pending migrations already: workers starting together must not race.
            os.environ.update(
                {
                    **environment,
                    "COLONNADE_DATABASE_MIGRATE_ON_START": "false",
                    WORKER_FAILURES_VARIABLE: str(failures),
                }
            )
            log.info("starting %d workers", settings.server.workers)
            status, signalled = _run_supervisor(run, config)
            return _exit_status(status, signalled=signalled, failed_to_start=failures.exists())
    finally:
        for sock in sockets:
            sock.close()


def _exit_status(status: int, *, signalled: bool, failed_to_start: bool) -> int:
    """The supervisor's exit status, decided from what happened rather than from hypercorn's ``run()``.

    hypercorn's status is unreliable: after the first worker fails it terminates the others and returns
    the status of whichever happen to have exited by then (0 when none has, -15 for one it killed).
    A worker that fails to start writes its message to a file first (:func:`_exit_worker`), and that
    file exists before ``run()`` returns, since ``run()`` returns only after a worker has ended.
    """
    if failed_to_start:
        log.error("a worker failed to start; see its message above")
        return 2
    if not signalled:
        log.error("the workers stopped without being asked to; see their messages above")
        return 1
    log.info("stopped")
    return 0 if status == 0 else 1


def _run_supervisor(run: Callable[[Config], int], config: Config) -> tuple[int, bool]:
    """Run hypercorn's supervisor: ``(its status, whether SIGTERM or SIGINT stopped it)``."""
    # hypercorn's run() replaces any signal handler installed here. A wakeup fd survives that and
    # records which signals arrived: without SIGTERM or SIGINT, the supervisor stopped because its
    # workers did.
    received, wakeup = socket.socketpair()
    received.setblocking(False)
    wakeup.setblocking(False)
    previous = signal.set_wakeup_fd(wakeup.fileno())
    try:
        status = run(config)
    finally:
        signal.set_wakeup_fd(previous)
        try:
            signals = set(received.recv(1024))
        except BlockingIOError:
            signals = set()
        received.close()
        wakeup.close()
    return status, bool(signals & {signal.SIGTERM, signal.SIGINT})


def worker_app() -> Any:
    """The application of one spawned worker, built from the environment the supervisor exported.

    A start-up failure inside a worker prints one line and ends the worker with status 2; hypercorn's
    supervisor then stops the other workers and :func:`serve_workers` returns 2.
    """
    from colonnade.app import create_app
    from colonnade.settings import load_settings

    try:
        settings = load_settings()
        configure_logging(settings.server.log_level)
        app = create_app(settings)
    except StartupError as error:
        _exit_worker(str(error))
    catch_startup_failure(app, lambda error: _exit_worker(describe_startup_failure(error)))
    freeze_after_startup(app)
    adjust_hypercorn()
    return app


def freeze_after_startup(app: Quart) -> None:
    """Move everything start-up made (modules, routes, models, plugin objects) out of the garbage
    collector's sight once the application has started.

    Those few hundred thousand objects live as long as the process, but every full collection walked
    them all again: about a tenth of a second during which the event loop answered nothing, every few
    seconds under load (``/health`` p99 130 ms while sign-ins ran, against 3 ms quiet). Frozen, a
    full collection walks only what requests leave behind. Only for serving: a test suite builds many
    applications in one process and must be able to collect them.
    """
    import gc

    @app.before_serving
    async def freeze() -> None:  # registered after create_app's own start-up, so it runs last
        gc.freeze()
        loop = type(asyncio.get_running_loop())
        log.info(
            "started on the %s event loop", "uvloop" if loop.__module__.startswith("uvloop") else "asyncio"
        )


def _exit_worker(message: str) -> None:
    print(f"colonnade: {message}", file=sys.stderr, flush=True)
    failures = os.environ.get(WORKER_FAILURES_VARIABLE)
    if failures:
        # Tells the supervisor why this worker ended (see _exit_status); written before exiting.
        try:
            with open(failures, "a", encoding="utf-8") as report:
                report.write(message + "\n")
        except OSError:
            pass  # the supervisor has finished already (this worker was being stopped anyway)
    # os._exit: multiprocessing would otherwise print the traceback of the SystemExit's cause.
    os._exit(2)
