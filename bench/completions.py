"""Benchmark of the completions proxies: the latency Colonnade adds to a streamed chat completion.

Run with ``make bench-completions`` (or ``.venv/bin/python bench/completions.py [--requests 200]
[--rounds 4] [--json PATH] [--whole-streams] [--without-turn-savings]``). It starts, each in its own process:

- the fake OpenAI upstream of the test suite (``colonnade.testing.fakes.openai``) on hypercorn,
  streaming every chat completion as 200 content chunks (plus the role chunk, the stop chunk and
  ``[DONE]``), as fast as it can, letting its event loop run between two events so that concurrent
  streams interleave as a model server's do (``--whole-streams``: each stream in one go, and
  concurrent streams one after the other, as before 26 November 13:25 UTC);
- ``colonnade serve`` with every built-in plugin and that upstream as its one OpenAI connection.

Then the same streamed request goes to four places, at 1 and at 16 concurrent connections:

- ``direct``: the fake upstream's ``/v1/chat/completions`` (the baseline);
- ``proxy``: ``/openai/chat/completions``, the relay of the openai plugin;
- ``pipeline``: ``/api/chat/completions``, the completions pipeline (routing, inlet, stream wrappers,
  outlet) with no filters installed;
- ``floor``: a bare relay, for reference: an ASGI application of a few lines on the server's own stack
  (hypercorn on uvloop with ``colonnade serve``'s response writes, the upstream client of
  ``host.http_client``) that forwards the body and passes the upstream's bytes on, with no framework,
  authentication or checks. What it adds is what the stack itself costs on this machine.

For each it records the time to the first byte of the body (TTFB) and to the end of the stream, per
request, and the SSE events relayed per second over the whole run; every relayed stream is checked to
hold all 203 events. The requests to each target are made in rounds (``--rounds``, 4 by default) that
alternate between the targets, each round starting one target further along. "Added" is the median,
over the rounds, of the proxied median minus the direct median of the same round: a machine that
slows down for a minute then slows both sides of a difference, not one target's whole run.

The client is one ``httpx.AsyncClient`` (HTTP/1.1 keep-alive) in this process. All three processes
share the machine's cores, so the figures are this machine's, not a network's: read the added
latency, which the client's and the upstream's own costs mostly cancel out of.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import (
    Server,
    builtin_plugins,
    colonnade_command,
    free_port,
    machine,
    process_cpu_seconds,
    publish,
    server_env,
    sign_up,
)

CHUNKS = 200
#: Events in one stream: the role chunk, the content chunks, the stop chunk and ``[DONE]``.
EVENTS = CHUNKS + 3
UPSTREAM_KEY = "sk-bench-upstream"
MODEL = "gpt-4o-mini"
#: Targets, in the order they are measured and reported: (name, path, what it is).
TARGETS = [
    ("direct", "/v1/chat/completions", "the fake upstream itself"),
    ("proxy", "/openai/chat/completions", "the openai plugin's relay"),
    ("pipeline", "/api/chat/completions", "the completions pipeline, no filters"),
    ("floor", "/v1/chat/completions", "a bare ASGI relay on the same stack, for reference"),
]
#: The targets Colonnade serves, which the issue's targets apply to.
COLONNADE_TARGETS = ("proxy", "pipeline")
#: Targets from Open WebUI's issue: (ttfb c=1, ttfb c=16) added, in ms.
TARGET_ADDED_MS = {"proxy": (1.0, 10.0), "pipeline": (3.0, 30.0)}
OPEN_WEBUI_ADDED_MS = {"proxy": (6.3, 109.0), "pipeline": (18.0, 271.0)}


def serve_fake_upstream(port: int, whole_streams: bool = False) -> None:
    """Serve the fake OpenAI upstream on ``port`` until killed (run in a child process)."""
    import hypercorn.asyncio

    from colonnade.testing.fakes.openai import create_app

    app = create_app()
    app.control.chunk_count = CHUNKS
    app.control.interleave = not whole_streams
    app.control.api_key = UPSTREAM_KEY
    asyncio.run(hypercorn.asyncio.serve(app, _hypercorn_config(port)))


def serve_floor_relay(port: int, upstream_url: str) -> None:
    """Serve the bare reference relay on ``port`` until killed (run in a child process)."""
    import hypercorn.asyncio
    import uvloop

    from colonnade.hypercorn_adjustments import adjust_hypercorn
    from colonnade.netbackend import UpstreamClient

    client: Any = None
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json"}

    async def relay(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal client
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            client = UpstreamClient(timeout=60)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = client.build_request(
            "POST", upstream_url + "/chat/completions", content=body, headers=headers
        )
        response = await client.send(request, stream=True)
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream")],
        }
        await send(start)
        try:
            async for piece in response.aiter_raw():
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        finally:
            await response.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    adjust_hypercorn()
    uvloop.run(hypercorn.asyncio.serve(relay, _hypercorn_config(port)))


def _hypercorn_config(port: int) -> Any:
    """hypercorn on 127.0.0.1:``port``, logging warnings only."""
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    return config


def write_config(workdir: Path, upstream_url: str) -> Path:
    path = workdir / "colonnade.toml"
    plugins = ", ".join(f'"{name}"' for name in builtin_plugins())
    path.write_text(
        f'[server]\ndata_dir = "{workdir / "data"}"\nlog_level = "warning"\n\n'
        f"[host]\nload_plugins = [{plugins}]\n\n"
        f'[[plugins.openai.connections]]\nbase_url = "{upstream_url}"\napi_key = "{UPSTREAM_KEY}"\n'
    )
    return path


async def one_stream(client: Any, url: str, headers: dict[str, str], body: bytes) -> tuple[float, float, int]:
    """(seconds to the first body byte, seconds to the end, SSE events received) for one request."""
    started = time.perf_counter()
    first = None
    received = b""
    async with client.stream("POST", url, headers=headers, content=body) as response:
        if response.status_code != 200:
            detail = (await response.aread()).decode(errors="replace")[:300]
            raise RuntimeError(f"{url} answered {response.status_code}: {detail}")
        async for piece in response.aiter_raw():
            if first is None:
                first = time.perf_counter()
            received += piece
    ended = time.perf_counter()
    return (first or ended) - started, ended - started, received.count(b"data: ")


async def run_target(
    url: str, headers: dict[str, str], connections: int, requests: int, pids: dict[str, int]
) -> dict[str, Any]:
    """One round against one target: every request's ``(ttfb, total, events)`` in seconds, the
    round's wall time and the CPU seconds the processes named in ``pids`` (``server``, ``upstream``)
    used, which other work on a shared machine disturbs far less than latency."""
    import httpx

    body = json.dumps(
        {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Tell me a story."}]}
    ).encode()
    headers = {**headers, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        for _ in range(max(10, connections * 2)):  # warm-up: connections, caches, the model list
            await one_stream(client, url, headers, body)
        results: list[tuple[float, float, int]] = []
        per_connection = max(1, requests // connections)

        async def connection() -> None:
            for _ in range(per_connection):
                results.append(await one_stream(client, url, headers, body))

        cpu_before = {name: process_cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        cpu = {name: process_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    return {"results": results, "elapsed": elapsed, "cpu": cpu}


def summarize(connections: int, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One target's figures over all its rounds (every request pooled), with each round's median."""
    results = [result for round_ in rounds for result in round_["results"]]
    elapsed = sum(round_["elapsed"] for round_ in rounds)
    incomplete = sum(1 for _, _, events in results if events != EVENTS)
    ttfb = sorted(first for first, _, _ in results)
    total = sorted(end for _, end, _ in results)
    cpu = {name: sum(round_["cpu"][name] for round_ in rounds) for name in rounds[0]["cpu"]}
    return {
        "connections": connections,
        "requests": len(results),
        "incomplete_streams": incomplete,
        "ttfb_p50_ms": percentile(ttfb, 50) * 1000,
        "ttfb_p99_ms": percentile(ttfb, 99) * 1000,
        # The mean as well: at c=16 the fake upstream sometimes serves its connections unevenly (many
        # fast streams, a few slow ones), which moves the median a lot and the mean hardly at all.
        "ttfb_mean_ms": sum(ttfb) / len(ttfb) * 1000,
        "total_p50_ms": percentile(total, 50) * 1000,
        "total_p99_ms": percentile(total, 99) * 1000,
        "round_ttfb_p50_ms": [_round_median(round_, 0) for round_ in rounds],
        "round_total_p50_ms": [_round_median(round_, 1) for round_ in rounds],
        "events_per_second": sum(events for _, _, events in results) / elapsed,
        "streams_per_second": len(results) / elapsed,
        **{f"{name}_cpu_ms_per_stream": used / len(results) * 1000 for name, used in cpu.items()},
    }


def _round_median(round_: dict[str, Any], index: int) -> float:
    return percentile(sorted(result[index] for result in round_["results"]), 50) * 1000


def added_ms(run: dict[str, Any], direct: dict[str, Any], figure: str = "ttfb") -> float:
    """What ``run`` adds to the direct median ``figure`` (``ttfb`` or ``total``): the median, over the
    rounds, of the difference between the two medians of the same round. Rounds alternate between the
    targets, so a machine that slows down for a while slows both sides of a difference alike."""
    key = f"round_{figure}_p50_ms"
    return statistics.median(ours - theirs for ours, theirs in zip(run[key], direct[key], strict=True))


def percentile(values: list[float], pct: float) -> float:
    index = min(len(values) - 1, max(0, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


#: Run first in the server and the bare relay for ``--without-turn-savings``: brings back the turns of the
#: event loop a request waited for before 26 November 13:30 UTC (httpcore's anyio lock and event,
#: Quart's request tasks and body wait, hypercorn's wait for a cancelled keep-alive timeout).
WITHOUT_TURN_SAVINGS = (
    "import colonnade.fastpaths as fast, colonnade.httpcore_locks as locks\n"
    "import colonnade.hypercorn_adjustments as adjustments\n"
    "from quart.asgi import ASGIHTTPConnection\nfrom quart.wrappers.request import Request\n"
    "locks.install = lambda: False\nadjustments.install_prompt_idle_tasks = lambda: False\n"
    "fast.InlineHTTPConnection = ASGIHTTPConnection\nfast.CompleteBodyRequest = Request\n"
)


def python(argv: list[str], patch: str) -> list[str]:
    """The command running ``argv`` (a script or a console script and its arguments) in this Python,
    with ``patch`` run first."""
    if not patch:
        return [sys.executable, *argv] if argv[0].endswith(".py") else argv
    code = f"import runpy, sys\nsys.argv = {argv!r}\n"
    if argv[0].endswith(".py"):
        code += f"runpy.run_path({argv[0]!r}, run_name='__main__')\n"
    else:
        code += "from colonnade.cli import main\nmain()\n"
    return [sys.executable, "-c", patch + code]


@dataclass
class Running:
    """The processes of a completions benchmark (see :func:`running`)."""

    workdir: Path
    fake: Any
    floor: Any
    server: Server
    upstream: str
    floor_url: str

    def targets(self) -> dict[str, tuple[str, dict[str, str], int]]:
        """``{target: (base URL, headers, pid of the process serving it)}``, with a new user signed up
        for the server's two targets."""
        user = {"Authorization": f"Bearer {sign_up(self.server.base_url, 'bench@bench.test')['token']}"}
        upstream_key = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
        return {
            "direct": (self.upstream, upstream_key, self.fake.pid),
            "proxy": (self.server.base_url, user, self.server.process.pid),
            "pipeline": (self.server.base_url, user, self.server.process.pid),
            "floor": (self.floor_url, upstream_key, self.floor.pid),
        }


@contextmanager
def running(
    prefix: str,
    patch: str = "",
    whole_streams: bool = False,
    floor_env: dict[str, str] | None = None,
    server_env_extra: dict[str, str] | None = None,
) -> Iterator[Running]:
    """Start the fake upstream, the bare relay and ``colonnade serve`` (the last two with ``patch`` run
    first), wait until they answer, and stop them all at the end (the servers cleanly, so that what
    they do at exit is done)."""
    import subprocess

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    upstream_port, floor_port, port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    fake = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake-upstream", str(upstream_port)]
        + (["--whole-streams"] if whole_streams else []),
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "upstream.log").open("wb"),
    )
    floor = subprocess.Popen(
        python([__file__, "--serve-floor-relay", str(floor_port), upstream + "/v1"], patch),
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "floor.log").open("wb"),
        env={**os.environ, **(floor_env or {})},
    )
    config = write_config(workdir, upstream + "/v1")
    server = Server.start(
        python(colonnade_command(port), patch),
        port,
        workdir / "colonnade.log",
        {**server_env(config), **(server_env_extra or {})},
    )
    try:
        _wait_for(upstream)
        floor_url = f"http://127.0.0.1:{floor_port}"
        _wait_for(floor_url, path="/v1/chat/completions")
        yield Running(workdir, fake, floor, server, upstream, floor_url)
    finally:
        server.stop()
        floor.terminate()
        try:
            floor.wait(30)
        except subprocess.TimeoutExpired:
            floor.kill()
            floor.wait()
        fake.kill()
        fake.wait()


def measure(
    requests: int, rounds: int, whole_streams: bool = False, without_turn_savings: bool = False
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": machine(),
        "chunks": CHUNKS,
        "requests": requests,
        "rounds": rounds,
        "whole_streams": whole_streams,
        "without_turn_savings": without_turn_savings,
        "runs": {},
    }
    patch = WITHOUT_TURN_SAVINGS if without_turn_savings else ""
    with running("colonnade-bench-completions-", patch, whole_streams) as processes:
        where = processes.targets()
        for connections in (1, 16):
            measured: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in TARGETS}
            for round_ in range(rounds):
                # Each round visits every target, starting one further along each time.
                for name, path, _ in TARGETS[round_ % len(TARGETS) :] + TARGETS[: round_ % len(TARGETS)]:
                    base, headers, pid = where[name]
                    pids = {"upstream": processes.fake.pid} | ({"server": pid} if name != "direct" else {})
                    per_round = max(connections, requests // rounds)
                    measured[name].append(
                        asyncio.run(run_target(base + path, headers, connections, per_round, pids))
                    )
            for name, _, _ in TARGETS:
                run = summarize(connections, measured[name])
                report["runs"][f"{name}_c{connections}"] = run
                print(f"{name:8s} c={connections:<2d} {_line(run)}", file=sys.stderr)
        report["server_rss_mb"] = processes.server.rss_mb()
    return report


def _wait_for(base_url: str, timeout: float = 30, path: str = "/v1/models") -> None:
    import httpx

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            httpx.get(base_url + path, headers={"Authorization": f"Bearer {UPSTREAM_KEY}"})
            return
        except httpx.TransportError:
            time.sleep(0.02)
    raise RuntimeError(f"{base_url} did not start")


def _line(run: dict[str, Any]) -> str:
    return (
        f"TTFB p50 {run['ttfb_p50_ms']:.2f} ms p99 {run['ttfb_p99_ms']:.2f} ms; total p50 "
        f"{run['total_p50_ms']:.2f} ms p99 {run['total_p99_ms']:.2f} ms; "
        f"{run['events_per_second']:,.0f} events/s; incomplete {run['incomplete_streams']}; CPU ms/stream "
        f"server {run.get('server_cpu_ms_per_stream', 0):.2f} upstream {run['upstream_cpu_ms_per_stream']:.2f}"
    )


def render(report: dict[str, Any]) -> str:
    runs = report["runs"]
    lines = [
        "| Figure | c | Direct (fake upstream) | Through Colonnade | Added | Target | Verdict | Open WebUI 0.12.4 added |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, path, _ in TARGETS:
        if name not in COLONNADE_TARGETS:
            continue
        for index, connections in enumerate((1, 16)):
            direct, proxied = runs[f"direct_c{connections}"], runs[f"{name}_c{connections}"]
            added = added_ms(proxied, direct)
            target = TARGET_ADDED_MS[name][index]
            verdict = "met" if added <= target else "**missed**"
            lines.append(
                f"| `{path}` TTFB p50 | {connections} | {direct['ttfb_p50_ms']:.2f} ms | "
                f"{proxied['ttfb_p50_ms']:.2f} ms | {added:+.2f} ms | ≤ +{target:g} ms | {verdict} | "
                f"+{OPEN_WEBUI_ADDED_MS[name][index]:g} ms |"
            )
            added_total = added_ms(proxied, direct, "total")
            lines.append(
                f"| `{path}` total p50 ({EVENTS} events) | {connections} | {direct['total_p50_ms']:.2f} ms | "
                f"{proxied['total_p50_ms']:.2f} ms | {added_total:+.2f} ms | — | — | — |"
            )
    for connections in (1, 16):
        direct, floor = runs[f"direct_c{connections}"], runs[f"floor_c{connections}"]
        lines.append(
            f"| Bare relay on the same stack (reference) TTFB p50 | {connections} | {direct['ttfb_p50_ms']:.2f} ms "
            f"| {floor['ttfb_p50_ms']:.2f} ms | {added_ms(floor, direct):+.2f} ms | — | — | — |"
        )
    lines.append("")
    lines.append(
        "| Run | c | TTFB p50 / mean / p99 | Total p50 / p99 | Events relayed/s | Server CPU per stream "
        "| Upstream CPU per stream | Incomplete streams |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for key, run in runs.items():
        name, connections = key.rsplit("_c", 1)
        lines.append(
            f"| {name} | {connections} | {run['ttfb_p50_ms']:.2f} / {run['ttfb_mean_ms']:.2f} / "
            f"{run['ttfb_p99_ms']:.2f} ms | "
            f"{run['total_p50_ms']:.2f} / {run['total_p99_ms']:.2f} ms | {run['events_per_second']:,.0f} | "
            f"{_cpu(run, 'server')} | {_cpu(run, 'upstream')} | {run['incomplete_streams']} of {run['requests']} |"
        )
    lines.append("")
    lines.append(
        f"{report['requests']} streamed requests per target and concurrency, of {EVENTS} events each, in "
        f"{report['rounds']} rounds alternating between the targets. Added: the median over the rounds of "
        "each round's difference of medians; the other figures pool every request. Machine: "
        f"{report['machine'].get('cpu', '?')}, {report['machine'].get('cores', '?')} cores."
    )
    return "\n".join(lines)


def _cpu(run: dict[str, Any], process: str) -> str:
    used = run.get(f"{process}_cpu_ms_per_stream")
    return "—" if used is None else f"{used:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="Streamed requests per target and concurrency (default 200).",
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="Rounds alternating between the targets (default 4)."
    )
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    parser.add_argument(
        "--whole-streams",
        action="store_true",
        help="The fake upstream writes each stream in one go instead of interleaving them (before 13:25 UTC "
        "on 26 November).",
    )
    parser.add_argument(
        "--without-turn-savings",
        action="store_true",
        help="Run the server and the bare relay with the turns of the event loop saved on 26 November "
        "brought back, for comparison.",
    )
    parser.add_argument("--serve-fake-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor-relay", nargs=2, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake_upstream:
        serve_fake_upstream(args.serve_fake_upstream, args.whole_streams)
        return 0
    if args.serve_floor_relay:
        serve_floor_relay(int(args.serve_floor_relay[0]), args.serve_floor_relay[1])
        return 0
    report = measure(args.requests, args.rounds, args.whole_streams, args.without_turn_savings)
    publish(render(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
