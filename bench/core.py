"""Benchmark of the core host: start-up, memory and throughput of the real ``colonnade serve``.

Run with ``make bench`` (or ``.venv/bin/python bench/core.py [--duration 5] [--json results.json]``).
It measures, on this machine and in one run:

- cold start: from spawning ``colonnade serve`` to the first ``/health`` 200, with a fresh data directory
  (migrations applied) and then restarts on the existing database;
- idle RSS of the server process after start-up;
- requests/s, p50 and p99 for ``/health``, ``POST /api/auth/signin`` and an authenticated
  ``GET /api/users`` at 1 and 32 connections, and ``/health`` of a bare Quart app on hypercorn served the
  same way, for the ratio (the two alternate over several rounds and the best round of each is kept);
- the server's CPU time per request, which other work on a shared machine disturbs far less than req/s;
- ``/health`` p99 at 1 connection while sign-ins run on 8 other connections.

The server runs with the default configuration (SQLite under a temporary data directory, argon2id at
OWASP's parameters, every built-in plugin loaded); only the example plugins, when installed, are left
out. The load tool is ``wrk`` when installed (``apt-get install wrk``), else a Python client (see
``load.py``). Results are printed as a Markdown table for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from report import render

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password-0123456789"
#: Sign-ins running on other connections while ``/health`` latency is measured.
BACKGROUND_SIGNINS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_status(port: int) -> int | None:
    """The status of ``GET /health``, or ``None`` while nothing answers on the port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@dataclass
class Server:
    """A server subprocess and how long it took to answer its first ``/health`` 200."""

    process: subprocess.Popen
    port: int
    start_seconds: float
    log: Path
    #: CPU time the process had used when it first answered: the start-up's cost without the waiting
    #: that other processes on a busy machine add to ``start_seconds``.
    start_cpu_seconds: float = 0.0

    @classmethod
    def start(
        cls, command: list[str], port: int, log: Path, env: dict[str, str], timeout: float = 60
    ) -> Server:
        started = time.perf_counter()
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=log.parent
            )
        while time.perf_counter() - started < timeout:
            if health_status(port) == 200:
                server = cls(process, port, time.perf_counter() - started, log)
                server.start_cpu_seconds = server.cpu_seconds()
                return server
            if process.poll() is not None:
                raise RuntimeError(
                    f"{command[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.005)  # polling resolution of the start-up time
        process.kill()
        raise RuntimeError(f"no /health 200 within {timeout} s:\n{log.read_text()[-3000:]}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        """Resident memory of the server and any child processes, in MiB (from /proc)."""
        total_kib = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        return total_kib / 1024

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) the server process has used so far."""
        return process_cpu_seconds(self.process.pid)

    def load(self, target: load.Target, connections: int, seconds: float, scratch: Path) -> dict[str, Any]:
        """One load run, with the server's CPU time per request: unlike requests/s, that figure barely
        moves when other processes compete for the machine's two cores."""
        before = self.cpu_seconds()
        result = load.run(self.base_url, target, connections, seconds, scratch).as_dict()
        used = self.cpu_seconds() - before
        result["server_cpu_us_per_request"] = used / result["requests"] * 1e6 if result["requests"] else None
        return result

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    children = [int(child) for child in found]
    return children + [grandchild for child in children for grandchild in _children(child)]


def builtin_plugins() -> list[str]:
    """Entry points of the colonnade distribution itself (third-party ones, such as the examples, are not)."""
    return sorted(
        {
            ep.name
            for ep in entry_points(group="colonnade.plugins")
            if ep.dist is not None and ep.dist.name == "colonnade"
        }
    )


def write_config(workdir: Path) -> Path:
    path = workdir / "colonnade.toml"
    plugins = ", ".join(f'"{name}"' for name in builtin_plugins())
    path.write_text(
        f'[server]\ndata_dir = "{workdir / "data"}"\nlog_level = "warning"\n\n'
        f"[host]\nload_plugins = [{plugins}]\n"
    )
    return path


def server_env(config: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("COLONNADE_")}
    env["COLONNADE_CONFIG"] = str(config)
    return env


def colonnade_command(port: int) -> list[str]:
    executable = Path(sys.executable).parent / "colonnade"
    return [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)]


def sign_up(base_url: str, email: str) -> dict[str, Any]:
    import httpx

    response = httpx.post(
        base_url + "/api/auth/signup", json={"name": email, "email": email, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return response.json()


#: What ``colonnade serve`` imports before it can answer, to split the start-up time.
SERVE_IMPORTS = (
    "import colonnade.cli, colonnade.app, colonnade.serving, quart, quart_schema, hypercorn.asyncio, tortoise"
)


def child_cpu_seconds(command: list[str], runs: int = 3) -> float:
    """Median CPU time (user + system) of running ``command`` to completion."""
    import resource

    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times)


def one_hash_ms() -> float:
    """Median time of one argon2id verification at the default (OWASP) parameters, in this process."""
    from argon2 import PasswordHasher
    from colonnade.settings import AuthSettings

    auth = AuthSettings()
    hasher = PasswordHasher(
        time_cost=auth.argon2_time_cost,
        memory_cost=auth.argon2_memory_kib,
        parallelism=auth.argon2_parallelism,
    )
    hashed = hasher.hash(PASSWORD)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        hasher.verify(hashed, PASSWORD)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the highest throughput: the one least disturbed by other work on the machine."""
    chosen = dict(max(runs, key=lambda run: run["requests_per_second"]))
    chosen["rounds"] = [round(run["requests_per_second"]) for run in runs]
    return chosen


def measure(duration: float, restarts: int, rounds: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="colonnade-bench-"))
    scratch = workdir / "scratch"
    scratch.mkdir()
    results: dict[str, Any] = {
        "machine": machine(),
        "duration_s": duration,
        "rounds": rounds,
        "plugins": builtin_plugins(),
        "argon2_verify_ms": one_hash_ms(),
        "interpreter_cpu_s": child_cpu_seconds([sys.executable, "-c", "pass"]),
        "imports_cpu_s": child_cpu_seconds([sys.executable, "-c", SERVE_IMPORTS]),
    }
    health = load.Target("GET", "/health")
    servers: list[Server] = []
    try:
        config = write_config(workdir)
        env = server_env(config)
        port = free_port()
        log = workdir / "colonnade.log"
        server = Server.start(colonnade_command(port), port, log, env)
        results["first_start_s"] = server.start_seconds
        results["first_start_cpu_s"] = server.start_cpu_seconds
        results["first_start_rss_mb"] = server.rss_mb()
        starts, cpu = [], []
        for _ in range(restarts):
            server.stop()
            server = Server.start(colonnade_command(port), port, log, env)
            starts.append(server.start_seconds)
            cpu.append(server.start_cpu_seconds)
        servers.append(server)
        results["restart_s"] = statistics.median(starts) if starts else None
        results["restart_cpu_s"] = statistics.median(cpu) if cpu else None
        results["restarts_s"] = starts
        results["idle_rss_mb"] = server.rss_mb()

        # The baseline runs beside colonnade, and the two are measured in alternating rounds, so that
        # other work on the machine disturbs both alike.
        port = free_port()
        bare_command = [sys.executable, str(HERE / "bare_quart.py"), str(port)]
        bare = Server.start(bare_command, port, workdir / "bare.log", dict(os.environ))
        servers.append(bare)
        results["bare"] = {"start_s": bare.start_seconds, "rss_mb": bare.rss_mb()}

        admin = sign_up(server.base_url, "admin@bench.test")
        sign_up(server.base_url, "user@bench.test")
        signin = load.Target(
            "POST",
            "/api/auth/signin",
            {"Content-Type": "application/json"},
            json.dumps({"email": "user@bench.test", "password": PASSWORD}).encode(),
        )
        users = load.Target("GET", "/api/users", {"Authorization": f"Bearer {admin['token']}"})
        for warm in (server, bare):
            warm.load(health, 8, 1, scratch)
        server.load(users, 1, 1, scratch)

        for connections in (1, 32):
            ours, theirs = [], []
            for _ in range(rounds):
                theirs.append(bare.load(health, connections, duration, scratch))
                ours.append(server.load(health, connections, duration, scratch))
            results["bare"][f"health_c{connections}"] = best(theirs)
            results[f"health_c{connections}"] = best(ours)
        bare.stop()
        servers.remove(bare)

        for name, target in (("signin", signin), ("users", users)):
            for connections in (1, 32):
                results[f"{name}_c{connections}"] = server.load(target, connections, duration, scratch)

        # /health on one connection while sign-ins keep the hashing threads busy on others.
        background = load.start(server.base_url, signin, BACKGROUND_SIGNINS, duration + 2, scratch)
        time.sleep(1)  # let the sign-ins ramp up before measuring
        results["health_c1_during_signins"] = load.run(
            server.base_url, health, 1, duration, scratch
        ).as_dict()
        results["signins_in_background"] = load.finish(background).as_dict()
        results["rss_after_load_mb"] = server.rss_mb()
    finally:
        for running in servers:
            running.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results["tool"] = "wrk" if load.wrk_path() else "python"
    return results


def publish(table: str, report: dict[str, Any], json_path: str | None) -> None:
    """Print a benchmark's Markdown ``table``; with ``json_path``, also write its raw ``report`` there."""
    print(table)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=2, default=str) + "\n")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds per load run (default 5).")
    parser.add_argument(
        "--restarts", type=int, default=3, help="Restarts timed after the first start (default 3)."
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Alternating /health rounds, best kept (default 3)."
    )
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    args = parser.parse_args(argv)
    if not load.wrk_path():
        print(
            "wrk is not installed: using the Python load generator, whose own CPU use lowers every figure.",
            file=sys.stderr,
        )
    results = measure(args.duration, args.restarts, args.rounds)
    publish(render(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
