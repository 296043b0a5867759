"""A/B runs behind the notes in ``docs/benchmarks.md``: each fix against the code path it replaced.

On a shared two-core machine one benchmark run moves by a factor of two, so each comparison here runs
both sides at once (or in alternation) and prints every round; read the medians, not one figure.

- ``json``: ``/health`` from bare Quart, colonnade, and colonnade without the plain-JSON fast path
  (``colonnade.fastpaths``), wrk rounds alternating between the three, with server CPU per request.
- ``hashing``: ``/health`` on one connection while eight connections sign in, colonnade's hashing pool
  (cores - 1 threads) against asyncio's default pool (``asyncio.to_thread``, cores + 4 threads).
- ``startup``: CPU time to import everything and build the application, as now against PyJWT imported
  eagerly and Werkzeug's URL builders compiled at registration (as before the fix).
- ``httpcore-locks``: an upstream client alone (``UpstreamClient`` on uvloop, its own process) sending
  small streamed requests to a loopback server that answers at once, at 1 and 16 concurrent requests:
  CPU per request with ``colonnade.httpcore_locks`` installed, and with httpcore's anyio lock and event.
- ``upstream-writes``: the same client and server, a request's head and body sent in one write
  (``colonnade.netbackend``) against one write each; CPU per request of the client and of the server.

Usage: ``.venv/bin/python bench/ab.py json|hashing|startup|httpcore-locks|upstream-writes [--rounds 4]
[--duration 3]``.
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
WITH_ANYIO_LOCKS = "import colonnade.httpcore_locks as h\nh.install = lambda: False\n"
#: Every write of a request handed to the socket at once, as before 26 November 15:40 UTC.
WITH_SEPARATE_WRITES = "import colonnade.netbackend as n\nn.COALESCE_LIMIT = 0\n"
#: A server answering every request on a kept connection at once with a one-event chunked stream.
INSTANT_UPSTREAM = """
import asyncio, sys, uvloop
ANSWER = (b"HTTP/1.1 200 OK\\r\\ncontent-type: text/event-stream\\r\\ntransfer-encoding: chunked\\r\\n\\r\\n"
          b"e\\r\\ndata: [DONE]\\n\\n\\r\\n0\\r\\n\\r\\n")
class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.received = transport, b""
    def data_received(self, data):
        self.received += data
        while b"\\r\\n\\r\\n" in self.received:
            head, _, rest = self.received.partition(b"\\r\\n\\r\\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\\r\\n")
                           if line.lower().startswith(b"content-length:")), 0)
            if len(rest) < length:
                return
            self.received = rest[length:]
            self.transport.write(ANSWER)
async def main():
    server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
uvloop.run(main())
"""
#: Requests an upstream client makes before it is measured.
WARM_UP = 200
#: Prints the CPU seconds per request of an upstream client; ``{patch}`` runs first.
UPSTREAM_REQUESTS = """
{patch}import asyncio, time, uvloop
from colonnade.netbackend import UpstreamClient
async def main():
    client = UpstreamClient(timeout=30)
    url = "http://127.0.0.1:{port}/v1/chat/completions"
    body = b'{{"model": "m", "stream": true, "messages": [{{"role": "user", "content": "Hi"}}]}}'
    headers = {{"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}}
    async def one():
        request = client.build_request("POST", url, content=body, headers=headers)
        response = await client.send(request, stream=True)
        async for _ in response.aiter_raw():
            pass
        await response.aclose()
    async def connection(count):
        for _ in range(count):
            await one()
    await connection({warm_up})  # warm-up
    started = time.process_time()
    await asyncio.gather(*(connection({requests} // {concurrency}) for _ in range({concurrency})))
    print((time.process_time() - started) / {requests})
uvloop.run(main())
"""
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


def compare_upstream_client(rounds: int, before: tuple[str, str], requests: int = 4000) -> None:
    """CPU per request of an upstream client and of the instant upstream it calls, as it is ("now")
    and with ``before`` (its name, the patch bringing it back), at 1 and 16 concurrent requests."""
    port = core.free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-c", INSTANT_UPSTREAM, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
        for concurrency in (1, 16):
            sides = (("now", ""), before)
            cpu: dict[str, list[float]] = {name: [] for name, _ in sides}
            upstream_cpu: dict[str, list[float]] = {name: [] for name, _ in sides}
            for _ in range(rounds):
                for name, patch in sides:
                    code = UPSTREAM_REQUESTS.format(
                        patch=patch, port=port, requests=requests, concurrency=concurrency, warm_up=WARM_UP
                    )
                    upstream_before = core.process_cpu_seconds(upstream.pid)
                    output = subprocess.run(
                        [sys.executable, "-c", code], check=True, capture_output=True, text=True
                    ).stdout
                    # The upstream served the client's warm-up requests too.
                    upstream_used = core.process_cpu_seconds(upstream.pid) - upstream_before
                    cpu[name].append(float(output.split()[-1]) * 1e6)
                    upstream_cpu[name].append(upstream_used / (requests + WARM_UP) * 1e6)
            for name in cpu:
                rounds_text = ", ".join(f"{value:.0f}" for value in cpu[name])
                served = statistics.median(upstream_cpu[name])
                print(
                    f"c={concurrency:<2d} {name:17s} median {statistics.median(cpu[name]):.0f} µs CPU per"
                    f" request (rounds: {rounds_text}); the upstream's {served:.0f} µs"
                )
    finally:
        upstream.kill()
        upstream.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "comparison", choices=("json", "hashing", "startup", "httpcore-locks", "upstream-writes")
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="colonnade-ab-"))
    try:
        if args.comparison == "json":
            compare_json(work, args.rounds, args.duration)
        elif args.comparison == "hashing":
            compare_hashing(work, args.rounds, args.duration)
        elif args.comparison == "startup":
            compare_startup(work, args.rounds)
        elif args.comparison == "httpcore-locks":
            compare_upstream_client(args.rounds, ("anyio's (before)", WITH_ANYIO_LOCKS))
        else:
            compare_upstream_client(args.rounds, ("separate writes", WITH_SEPARATE_WRITES))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
