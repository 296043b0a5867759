"""``colonnade serve`` as a real process: readiness, /health, graceful SIGTERM, two workers, start-up errors.

Each test starts the installed ``colonnade`` script on port 0 with a config file named by
``COLONNADE_CONFIG`` and a temporary data directory. Nothing waits on a clock: the test reads the
server's log lines (hypercorn's ``Running on http://127.0.0.1:<port>``, our ``received SIGTERM``, the
probe plugin's ``echo started``) as they are written, with a generous bound only so that a hung server
fails the test instead of hanging it.

The probe is a third-party plugin installed as a real distribution (a ``*.dist-info`` on
``PYTHONPATH``); its ``POST /api/probe/echo`` logs when its view starts and then reads the body, so the
test can hold a request in flight for as long as it likes by withholding the end of the body.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from colonnade.config_output import to_toml

COLONNADE = Path(sys.executable).parent / "colonnade"
#: Upper bound on any single wait; a healthy run takes a fraction of it.
PATIENCE = 60

PROBE = '''
"""Probe: a third-party plugin whose echo view can be held in flight, and whose start can fail."""
import logging

from pydantic import BaseModel
from quart import Blueprint, request

from colonnade import hookimpl

log = logging.getLogger("colonnade.probe")
bp = Blueprint("probe", __name__, url_prefix="/api/probe")


class ProbeConfig(BaseModel):
    fail_startup: bool = False
    #: Refuse every start after this many (counted in the data directory): fails workers only.
    fail_after_starts: int | None = None


@bp.post("/echo")
async def echo():
    log.warning("probe: echo started")
    body = await request.get_data()
    return {"received": len(body)}


@hookimpl
def register_config_models():
    return {"probe": ProbeConfig}


@hookimpl
def register_blueprints(host):
    return [bp]


@hookimpl
def startup(host):
    config = host.plugin_config("probe")
    if config.fail_startup:
        raise RuntimeError("the probe was told to fail")
    if config.fail_after_starts is not None:
        counter = host.settings.server.data_dir / "probe-starts"
        starts = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(starts))
        if starts > config.fail_after_starts:
            raise RuntimeError(f"start {starts} refused")
'''


@pytest.fixture
def probe_site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    info = root / "colonnade_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colonnade-probe\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[colonnade.plugins]\nprobe = colonnade_probe\n")
    (root / "colonnade_probe.py").write_text(PROBE)
    return root


class Server:
    """A running ``colonnade serve`` whose stderr is read line by line on a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.port: int | None = None

    def _pump(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str) -> re.Match[str]:
        """Read log lines until one matches ``pattern``; fail if the process ends first."""
        while True:
            try:
                line = self._queue.get(timeout=PATIENCE)
            except queue.Empty:
                pytest.fail(f"no log line matched {pattern!r} within {PATIENCE} s:\n{''.join(self.lines)}")
            if line is None:
                pytest.fail(f"the server ended before logging {pattern!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def rest_of_log(self) -> str:
        while (line := self._queue.get(timeout=PATIENCE)) is not None:
            self.lines.append(line)
        return "".join(self.lines)

    def get(self, path: str) -> tuple[int, dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=PATIENCE) as response:
            return response.status, json.loads(response.read())

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=PATIENCE)


@pytest.fixture
def start_server(tmp_path: Path, probe_site: Path):
    """``start_server(config, *args)`` -> :class:`Server`, ready (every worker) unless ``ready=False``."""
    servers: list[Server] = []

    def start(config: dict | None = None, *args: str, ready: bool = True) -> Server:
        base = {
            "server": {"port": 0, "data_dir": str(tmp_path / "data"), "graceful_timeout": 10},
            "host": {"load_plugins": ["probe"]},
        }
        for section, values in (config or {}).items():
            base.setdefault(section, {}).update(values)
        config_path = tmp_path / "colonnade.toml"
        config_path.write_text(to_toml(base))
        environment = {key: value for key, value in os.environ.items() if not key.startswith("COLONNADE_")}
        environment.update(
            COLONNADE_CONFIG=str(config_path),
            PYTHONPATH=str(probe_site),
            XDG_CACHE_HOME=str(tmp_path / "cache"),
        )
        process = subprocess.Popen(
            [str(COLONNADE), "serve", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=environment,
            cwd=tmp_path,
        )
        server = Server(process)
        servers.append(server)
        if ready:
            workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
            for _ in range(workers):
                server.port = int(server.wait_for(r"Running on http://127\.0\.0\.1:(\d+)").group(1))
        return server

    yield start

    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=PATIENCE)


def test_serves_health_and_stops_on_sigterm(start_server):
    server = start_server()

    assert server.get("/health") == (200, {"status": True})

    assert server.stop(signal.SIGTERM) == 0
    log = server.rest_of_log()
    assert "received SIGTERM: finishing in-flight requests (up to 10.0 s), then stopping" in log
    assert "Traceback" not in log


def test_sigint_stops_it_too(start_server):
    server = start_server()
    assert server.stop(signal.SIGINT) == 0
    assert "received SIGINT" in server.rest_of_log()


def test_sigterm_lets_an_in_flight_request_finish(start_server):
    server = start_server()
    body = b'{"payload": "' + b"x" * 1000 + b'"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as connection:
        connection.sendall(
            b"POST /api/probe/echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        server.wait_for("probe: echo started")  # the view is running, waiting for the rest of the body

        server.process.send_signal(signal.SIGTERM)
        server.wait_for("received SIGTERM")
        connection.sendall(body[10:])
        response = b""
        while chunk := connection.recv(65536):
            response += chunk

    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response
    assert json.loads(payload) == {"received": len(body)}
    assert server.process.wait(timeout=PATIENCE) == 0
    # A connection attempted after the signal is refused: the listening socket is closed.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE).close()


def test_two_workers_serve(start_server):
    server = start_server(None, "--workers", "2")

    worker_pids = {
        int(pid)
        for pid in re.findall(r"\[(\d+)\] \[INFO\] hypercorn\.error: Running on", "".join(server.lines))
    }
    assert len(worker_pids) == 2 and server.process.pid not in worker_pids
    for _ in range(8):
        assert server.get("/health") == (200, {"status": True})

    assert server.stop(signal.SIGTERM) == 0
    for pid in worker_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_bad_key_stops_the_start_in_one_line(start_server):
    server = start_server({"server": {"prot": 1}}, ready=False)

    assert server.process.wait(timeout=PATIENCE) == 2
    assert server.rest_of_log() == "colonnade: invalid configuration: server.prot: unknown key\n"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_stops_the_start_in_one_line(start_server, workers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_server({"server": {"port": port}}, "--workers", workers, ready=False)

        assert server.process.wait(timeout=PATIENCE) == 2
    assert server.rest_of_log() == f"colonnade: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_missing_tls_files_stop_the_start_in_one_line(start_server, tmp_path):
    tls = {"certfile": str(tmp_path / "missing.pem"), "keyfile": str(tmp_path / "missing.key")}
    server = start_server({"server": {"hypercorn": tls}}, ready=False)

    assert server.process.wait(timeout=PATIENCE) == 2
    log = server.rest_of_log()
    assert log.startswith("colonnade: server.hypercorn: cannot load the TLS certificate or key: ")
    assert log.count("\n") == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_plugin_failing_to_start_stops_the_start_in_one_line(start_server, workers):
    server = start_server({"plugins": {"probe": {"fail_startup": True}}}, "--workers", workers, ready=False)

    assert server.process.wait(timeout=PATIENCE) == 2
    log = server.rest_of_log()
    assert "colonnade: plugin 'probe' failed to start: the probe was told to fail\n" in log
    assert "Traceback" not in log


def test_workers_failing_to_start_end_the_supervisor_with_status_2(start_server):
    # The supervisor's own start-up check is start 1; each worker's is refused. Whichever worker fails
    # first, and whatever state the other is in when hypercorn stops it, the status is 2.
    server = start_server({"plugins": {"probe": {"fail_after_starts": 1}}}, "--workers", "2", ready=False)

    assert server.process.wait(timeout=PATIENCE) == 2
    log = server.rest_of_log()
    assert re.search(r"colonnade: plugin 'probe' failed to start: start \d refused\n", log)
    assert "a worker failed to start; see its message above" in log
    assert "Traceback" not in log


def test_a_worker_dying_ends_the_supervisor_with_status_1(start_server):
    server = start_server(None, "--workers", "2")
    worker_pids = re.findall(r"\[(\d+)\] \[INFO\] hypercorn\.error: Running on", "".join(server.lines))

    os.kill(int(worker_pids[0]), signal.SIGKILL)

    assert server.process.wait(timeout=PATIENCE) == 1
    assert "the workers stopped without being asked to; see their messages above" in server.rest_of_log()


@pytest.mark.parametrize(
    ("choice", "expected"), [(None, "uvloop"), ("asyncio", "asyncio"), ("uvloop", "uvloop")]
)
def test_the_event_loop_is_uvloop_unless_asked_otherwise(start_server, choice, expected):
    server = start_server({"server": {"event_loop": choice}} if choice else None, ready=False)
    server.wait_for(f"started on the {expected} event loop")
    server.port = int(server.wait_for(r"Running on http://127\.0\.0\.1:(\d+)").group(1))
    assert server.get("/health") == (200, {"status": True})
    assert server.stop(signal.SIGTERM) == 0


def test_uvloop_serves_two_workers(start_server):
    server = start_server({"server": {"event_loop": "uvloop"}}, "--workers", "2")
    assert "".join(server.lines).count("started on the uvloop event loop") == 2
    assert server.get("/health") == (200, {"status": True})
    assert server.stop(signal.SIGTERM) == 0


def test_the_event_loop_is_not_a_hypercorn_setting(start_server):
    server = start_server({"server": {"hypercorn": {"worker_class": "trio"}}}, ready=False)
    assert server.process.wait(timeout=PATIENCE) == 2
    assert "server.hypercorn.worker_class cannot be set: use server.event_loop" in server.rest_of_log()


@pytest.mark.parametrize(
    ("request_head", "status", "detail"),
    [
        (b"GET /health?q=" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: test\r\n\r\n", 431, "too large"),
        (b"GET /health HTTP/1.1\r\nHost: test\r\nBad Header\r\n\r\n", 400, "Malformed HTTP request"),
    ],
)
def test_requests_hypercorn_cannot_parse_get_a_json_detail(start_server, request_head, status, detail):
    server = start_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as connection:
        connection.sendall(request_head)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), response[:200]
    assert b"content-type: application/json" in head.lower()
    assert detail in json.loads(body)["detail"]
    assert server.get("/health") == (200, {"status": True})  # the server carries on
