"""What each layer of the stack costs a relay: hypercorn and httpx, each against a minimal stand-in.

Run with ``.venv/bin/python bench/relay_stack.py [--requests 200] [--rounds 6] [--json PATH]``. It
starts the fake OpenAI upstream of ``bench/completions.py`` (203 SSE events per stream) and four bare
relays, each in its own process on uvloop, which forward a streamed chat completion and pass the
upstream's body on as it arrives, with no framework, authentication or checks:

- ``hypercorn+httpx``: an ASGI application on hypercorn (with ``colonnade serve``'s adjustments) that
  calls the upstream through ``UpstreamClient`` (httpx): ``bench/completions.py``'s "floor", the stack
  Colonnade runs on;
- ``hypercorn+minimal client``: the same server, the upstream called over a kept asyncio connection
  with a request written by hand and the chunked answer split by hand;
- ``minimal server+httpx``: an HTTP/1.1 server of a few lines on asyncio streams (``Content-Length``
  bodies, keep-alive, a chunked answer), calling the upstream through ``UpstreamClient``;
- ``minimal server+minimal client``: both stand-ins: about what any relay in Python on asyncio must
  add, one more process and two more trips over loopback.

The same request then goes to the fake upstream directly and to each relay, at 1 and 16 concurrent
connections, in rounds alternating between the targets; "added" is the median, over the rounds, of
each round's median time to the first byte minus the direct one (as in ``bench/completions.py``).
The stand-ins handle only what this benchmark sends: they are measuring sticks, not servers.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import completions

from core import free_port, machine, publish

RELAYS = {
    "hypercorn+httpx": ("hypercorn", "httpx"),
    "hypercorn+minimal client": ("hypercorn", "minimal"),
    "minimal server+httpx": ("minimal", "httpx"),
    "minimal server+minimal client": ("minimal", "minimal"),
}
PATH = "/v1/chat/completions"


class MinimalUpstream:
    """Kept HTTP/1.1 connections to the upstream, one per request in flight, on asyncio streams."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def stream(self, body: bytes) -> Any:
        """The upstream's answer to ``body``, chunk by chunk (its chunked framing taken off)."""
        while self.idle:
            reader, writer = self.idle.pop()
            if not reader.at_eof():  # not closed by the upstream while it was idle
                break
            writer.close()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {completions.UPSTREAM_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await reader.readuntil(b"\r\n\r\n")  # the status line and headers: the fake answers 200
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            yield (await reader.readexactly(size + 2))[:-2]
        await reader.readexactly(2)
        self.idle.append((reader, writer))


def upstream_caller(kind: str, upstream: str) -> Any:
    """``call(body)`` -> async iterator of the answer's pieces, through httpx or the minimal client."""
    if kind == "minimal":
        host, port = upstream.split("//", 1)[1].split("/", 1)[0].split(":")
        return MinimalUpstream(host, int(port)).stream

    from colonnade.netbackend import UpstreamClient

    client = UpstreamClient(timeout=60)
    headers = {"Authorization": f"Bearer {completions.UPSTREAM_KEY}", "Content-Type": "application/json"}

    async def call(body: bytes) -> Any:
        request = client.build_request("POST", upstream + PATH, content=body, headers=headers)
        response = await client.send(request, stream=True)
        try:
            async for piece in response.aiter_raw():
                yield piece
        finally:
            await response.aclose()

    return call


def serve_relay(name: str, port: int, upstream: str) -> None:
    """Serve relay ``name`` on ``port`` until killed (run in a child process)."""
    import uvloop

    server_kind, client_kind = RELAYS[name]
    if server_kind == "hypercorn":
        uvloop.run(_serve_hypercorn(port, upstream, client_kind))
    else:
        uvloop.run(_serve_minimal(port, upstream, client_kind))


async def _serve_hypercorn(port: int, upstream: str, client_kind: str) -> None:
    import hypercorn.asyncio

    from colonnade.hypercorn_adjustments import adjust_hypercorn

    call = upstream_caller(client_kind, upstream)

    async def relay(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        started = False
        async for piece in call(body):
            if not started:
                headers = [(b"content-type", b"text/event-stream")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                started = True
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    adjust_hypercorn()
    await hypercorn.asyncio.serve(relay, completions._hypercorn_config(port))


async def _serve_minimal(port: int, upstream: str, client_kind: str) -> None:
    call = upstream_caller(client_kind, upstream)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in request_head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                first = True
                async for piece in call(body):
                    framed = b"%x\r\n%s\r\n" % (len(piece), piece)
                    writer.write(head + framed if first else framed)
                    first = False
                writer.write(b"0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", port)
    await server.serve_forever()


def measure(requests: int, rounds: int) -> dict[str, Any]:
    upstream_port = free_port()
    children = [
        subprocess.Popen(
            [sys.executable, completions.__file__, "--serve-fake-upstream", str(upstream_port)],
            stdout=subprocess.DEVNULL,
        )
    ]
    upstream = f"http://127.0.0.1:{upstream_port}"
    where = {"direct": (upstream, children[0].pid)}
    for name in RELAYS:
        port = free_port()
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve-relay", name, str(port), upstream], stdout=subprocess.DEVNULL
        )
        children.append(child)
        where[name] = (f"http://127.0.0.1:{port}", child.pid)
    report: dict[str, Any] = {"machine": machine(), "requests": requests, "rounds": rounds, "runs": {}}
    headers = {"Authorization": f"Bearer {completions.UPSTREAM_KEY}"}
    try:
        completions._wait_for(upstream)
        for name in RELAYS:
            _wait_listening(int(where[name][0].rsplit(":", 1)[1]))
        targets = list(where)
        for connections in (1, 16):
            measured: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for round_ in range(rounds):
                for name in targets[round_ % len(targets) :] + targets[: round_ % len(targets)]:
                    base, pid = where[name]
                    pids = {"upstream": children[0].pid} | ({"server": pid} if name != "direct" else {})
                    per_round = max(connections, requests // rounds)
                    run = completions.run_target(base + PATH, headers, connections, per_round, pids)
                    measured[name].append(asyncio.run(run))
            direct = completions.summarize(connections, measured["direct"])
            for name in targets:
                run = completions.summarize(connections, measured[name])
                run["added_ttfb_ms"] = completions.added_ms(run, direct)
                report["runs"][f"{name}_c{connections}"] = run
                print(
                    f"{name:30s} c={connections:<2d} TTFB p50 {run['ttfb_p50_ms']:6.2f} ms, added "
                    f"{run['added_ttfb_ms']:+6.2f} ms; server CPU "
                    f"{run.get('server_cpu_ms_per_stream', 0):5.2f} ms/stream; incomplete "
                    f"{run['incomplete_streams']}",
                    file=sys.stderr,
                )
    finally:
        for child in children:
            child.kill()
            child.wait()
    return report


def _wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


def render(report: dict[str, Any]) -> str:
    runs = report["runs"]
    lines = [
        "| Relay | Added TTFB, c=1 | Added TTFB, c=16 | Relay CPU per stream, c=1 | c=16 |",
        "|---|---|---|---|---|",
    ]
    for name in RELAYS:
        one, sixteen = runs[f"{name}_c1"], runs[f"{name}_c16"]
        lines.append(
            f"| {name} | {one['added_ttfb_ms']:+.2f} ms | {sixteen['added_ttfb_ms']:+.2f} ms | "
            f"{one['server_cpu_ms_per_stream']:.2f} ms | {sixteen['server_cpu_ms_per_stream']:.2f} ms |"
        )
    direct_one, direct_sixteen = runs["direct_c1"], runs["direct_c16"]
    lines.append("")
    lines.append(
        f"Direct TTFB p50: {direct_one['ttfb_p50_ms']:.2f} ms at c=1, {direct_sixteen['ttfb_p50_ms']:.2f} ms "
        f"at c=16; the fake upstream's CPU per direct stream "
        f"{direct_one['upstream_cpu_ms_per_stream']:.2f} ms. "
        f"{report['requests']} requests per target and concurrency in {report['rounds']} rounds. Machine: "
        f"{report['machine'].get('cpu', '?')}, {report['machine'].get('cores', '?')} cores."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="Requests per target and concurrency.")
    parser.add_argument("--rounds", type=int, default=6, help="Rounds alternating between the targets.")
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    parser.add_argument(
        "--serve-relay", nargs=3, metavar=("NAME", "PORT", "UPSTREAM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.serve_relay:
        name, port, upstream = args.serve_relay
        serve_relay(name, int(port), upstream)
        return 0
    report = measure(args.requests, args.rounds)
    publish(render(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
