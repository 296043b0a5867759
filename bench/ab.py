"""A/B runs behind the notes in ``docs/benchmarks.md``: each fix against the code path it replaced.

On a shared two-core machine one benchmark run moves by a factor of two, so each comparison here runs
both sides at once (or in alternation) and prints every round; read the medians, not one figure.

- ``json``: ``/health`` from bare Quart, colonnade, and colonnade without the plain-JSON fast path
  (``colonnade.fastpaths``), wrk rounds alternating between the three, with server CPU per request.
- ``hashing``: ``/health`` on one connection while eight connections sign in, colonnade's hashing pool
  (cores - 1 threads) against asyncio's default pool (``asyncio.to_thread``, cores + 4 threads).
- ``startup``: CPU time to import everything and build the application, as now against PyJWT imported
  eagerly and Werkzeug's URL builders compiled at registration (as before the fix).

Usage: ``.venv/bin/python bench/ab.py json|hashing|startup [--rounds 4] [--duration 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load

import core

#: Code run before ``colonnade serve`` to bring back the replaced code path.
WITHOUT_JSON_FAST_PATH = "import colonnade.fastpaths as f\nf.install_json_fast_path = lambda app: None\n"
WITH_DEFAULT_POOL = (
    "import asyncio, colonnade.auth.passwords as p\n"
    "async def _to_thread(function, *args):\n"
    "    return await asyncio.to_thread(function, *args)\n"
    "p._off_loop = _to_thread\n"
)
EAGER_STARTUP = (
    "import jwt\nimport colonnade.app as a, colonnade.fastpaths as f\n"
    "a.install_fast_paths = f.install_json_fast_path\n"
)
BUILD_APP = (
    "import time\nstarted = time.process_time()\n{patch}"
    "import colonnade.cli, hypercorn.asyncio\nfrom colonnade.app import create_app\n"
    "from colonnade.settings import load_settings\ncreate_app(load_settings())\n"
    "print(time.process_time() - started)\n"
)


def serve_command(port: int, patch: str = "") -> list[str]:
    code = patch + (
        f"import sys\nsys.argv = ['colonnade', 'serve', '--host', '127.0.0.1', '--port', '{port}']\n"
        "from colonnade.cli import main\nmain()\n"
    )
    return [sys.executable, "-c", code]


def start_servers(work: Path, patches: dict[str, str]) -> dict[str, core.Server]:
    servers = {}
    for name, patch in patches.items():
        directory = work / name
        directory.mkdir()
        port = core.free_port()
        env = core.server_env(core.write_config(directory))
        servers[name] = core.Server.start(serve_command(port, patch), port, directory / "log", env)
    return servers


def compare_json(work: Path, rounds: int, duration: float) -> None:
    servers = start_servers(work, {"colonnade": "", "without fast path": WITHOUT_JSON_FAST_PATH})
    port = core.free_port()
    bare_command = [sys.executable, str(core.HERE / "bare_quart.py"), str(port)]
    servers = {
        "bare Quart": core.Server.start(bare_command, port, work / "bare.log", dict(os.environ))
    } | servers
    health = load.Target("GET", "/health")
    try:
        for round_ in range(rounds):
            for connections in (1, 32):
                for name, server in servers.items():
                    run = server.load(health, connections, duration, work)
                    print(
                        f"round {round_} c={connections} {name:18s} {run['requests_per_second']:7.0f} req/s"
                        f"  p99 {run['p99_ms']:7.2f} ms  {run['server_cpu_us_per_request']:6.0f} µs CPU/req",
                        flush=True,
                    )
    finally:
        for server in servers.values():
            server.stop()


def compare_hashing(work: Path, rounds: int, duration: float) -> None:
    servers = start_servers(work, {"hashing pool": "", "default pool": WITH_DEFAULT_POOL})
    for server in servers.values():
        core.sign_up(server.base_url, "user@bench.test")
    body = json.dumps({"email": "user@bench.test", "password": core.PASSWORD}).encode()
    signin = load.Target("POST", "/api/auth/signin", {"Content-Type": "application/json"}, body)
    health = load.Target("GET", "/health")
    try:
        for round_ in range(rounds):
            for name, server in servers.items():
                background = load.start(server.base_url, signin, core.BACKGROUND_SIGNINS, duration + 2, work)
                time.sleep(1)
                busy = load.run(server.base_url, health, 1, duration, work)
                signins = load.finish(background)
                print(
                    f"round {round_} {name:13s} /health during sign-ins {busy.requests_per_second:6.0f} req/s"
                    f"  p50 {busy.p50_ms:6.2f} ms  p99 {busy.p99_ms:7.2f} ms"
                    f"  | {signins.requests_per_second:5.1f} sign-ins/s  (load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
    finally:
        for server in servers.values():
            server.stop()


def compare_startup(work: Path, rounds: int) -> None:
    env = core.server_env(core.write_config(work))
    times: dict[str, list[float]] = {"now": [], "eager (before)": []}
    for _ in range(rounds):
        for name, patch in (("now", ""), ("eager (before)", EAGER_STARTUP)):
            command = [sys.executable, "-c", BUILD_APP.format(patch=patch)]
            output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
            times[name].append(float(output.split()[-1]))
    for name, values in times.items():
        print(
            f"{name:15s} median {statistics.median(values):.3f} s CPU, min {min(values):.3f} s ({len(values)} runs)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparison", choices=("json", "hashing", "startup"))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="colonnade-ab-"))
    try:
        if args.comparison == "json":
            compare_json(work, args.rounds, args.duration)
        elif args.comparison == "hashing":
            compare_hashing(work, args.rounds, args.duration)
        else:
            compare_startup(work, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
