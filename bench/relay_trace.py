"""Where a relayed request's time goes inside the server, up to its first byte: Colonnade against the bare relay.

Run with ``.venv/bin/python bench/relay_trace.py [--requests 200] [--rounds 4] [--json PATH]``. It starts the
fake OpenAI upstream, ``colonnade serve`` and the bare relay of ``bench/completions.py`` ("floor"), the two
servers with :func:`install` run first, which marks four moments of each request, in the task hypercorn
runs the application in:

- **called**: hypercorn calls the ASGI application;
- **handled**: the upstream client writes the upstream request (Colonnade: routing, the caller's lookup,
  the model's resolution, the body read and re-encoded; both: httpx building the request);
- **sent**: the request leaves for the upstream (:class:`colonnade.netbackend.AsyncioStream` sends it);
- **answered**: the first read of the upstream's answer returns;
- **relayed**: the first piece of the body goes to hypercorn, to be written to the client.

It also counts the times the task waited (gave the event loop up) before the request was sent and
before the first piece was relayed, since each wait costs a turn of the loop, and at 16 concurrent
streams a turn relays a batch of every other stream. Each figure is a median over the measured
requests (warm-up requests left out), per target and concurrency.

What lies outside these marks (hypercorn reading the request before it calls the application, the
client reading the answer) is the same code for both servers.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import completions

from core import machine, publish

#: Environment variable naming the file a traced server writes its marks to.
TRACE_FILE = "COLONNADE_RELAY_TRACE"
MARKS = ("called", "handled", "sent", "answered", "relayed")
TARGETS = {
    "proxy": "/openai/chat/completions",
    "pipeline": "/api/chat/completions",
    "floor": "/v1/chat/completions",
}


def install() -> None:
    """Mark each request of this server process (run first in it, see :data:`PATCH`)."""
    import hypercorn.app_wrappers

    from colonnade import netbackend

    marks: dict[asyncio.Task[Any], dict[str, Any]] = {}
    done: list[dict[str, Any]] = []

    def mark(name: str, waits_key: str | None = None) -> None:
        record = marks.get(asyncio.current_task())  # type: ignore[arg-type]
        if record is not None and name not in record:
            record[name] = time.monotonic()
            if waits_key:
                record[waits_key] = record["waits"]

    def dump() -> None:
        Path(os.environ[TRACE_FILE]).write_text(json.dumps(done))

    class CountingWaits:
        """Awaits ``coroutine``, counting in ``record["waits"]`` the times it gives the loop up."""

        def __init__(self, coroutine: Any, record: dict[str, Any]) -> None:
            self.coroutine, self.record = coroutine, record

        def __await__(self) -> Any:
            steps = self.coroutine.__await__()
            value: Any = None
            error: BaseException | None = None
            while True:
                try:
                    waited_on = steps.throw(error) if error is not None else steps.send(value)
                except StopIteration as finished:
                    return finished.value
                self.record["waits"] += 1
                try:
                    value, error = (yield waited_on), None
                except BaseException as raised:  # noqa: BLE001 - passed on to the coroutine
                    value, error = None, raised

    call_app = hypercorn.app_wrappers.ASGIWrapper.__call__

    async def traced_call(self: Any, scope: dict, receive: Any, send: Any, *args: Any) -> Any:
        if scope["type"] != "http":
            return await call_app(self, scope, receive, send, *args)
        task = asyncio.current_task()
        record = marks[task] = {"path": scope["path"], "called": time.monotonic(), "waits": 0}  # type: ignore[index]

        async def traced_send(message: dict) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                mark("relayed", "waits_before_relayed")
            await send(message)

        try:
            return await CountingWaits(call_app(self, scope, receive, traced_send, *args), record)
        finally:
            done.append(marks.pop(task))  # type: ignore[arg-type]
            if len(done) % 32 == 0:
                dump()

    write, send_unsent, read = (
        netbackend.AsyncioStream.write,
        netbackend.AsyncioStream._send_unsent,
        netbackend.AsyncioStream.read,
    )

    async def traced_write(self: Any, buffer: bytes, timeout: float | None = None) -> None:
        mark("handled")
        await write(self, buffer, timeout)

    def traced_send_unsent(self: Any) -> None:
        mark("sent", "waits_before_sent")
        send_unsent(self)

    async def traced_read(self: Any, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await read(self, max_bytes, timeout)
        mark("answered")
        return data

    atexit.register(dump)
    hypercorn.app_wrappers.ASGIWrapper.__call__ = traced_call
    netbackend.AsyncioStream.write = traced_write
    netbackend.AsyncioStream._send_unsent = traced_send_unsent
    netbackend.AsyncioStream.read = traced_read


#: Run first in a traced server (``completions.python``'s ``patch``).
PATCH = f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\nimport relay_trace\nrelay_trace.install()\n"


async def measure_window(
    url: str, headers: dict[str, str], connections: int, requests: int
) -> tuple[float, float]:
    """Stream ``requests`` answers from ``url`` over ``connections`` connections after a warm-up; the
    ``time.monotonic()`` window of the measured ones."""
    import httpx

    body = json.dumps(
        {"model": completions.MODEL, "stream": True, "messages": [{"role": "user", "content": "Hi."}]}
    ).encode()
    headers = {**headers, "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def connection(count: int) -> None:
            for _ in range(count):
                await completions.one_stream(client, url, headers, body)

        await asyncio.gather(*(connection(2) for _ in range(connections)))  # warm-up
        started = time.monotonic()
        await asyncio.gather(*(connection(max(1, requests // connections)) for _ in range(connections)))
        return started, time.monotonic()


def segments(records: list[dict[str, Any]]) -> dict[str, float]:
    """Median milliseconds between consecutive marks, and the median waits."""
    figures: dict[str, float] = {"requests": len(records)}
    for earlier, later in itertools.pairwise(MARKS):
        spans = [
            record[later] - record[earlier] for record in records if earlier in record and later in record
        ]
        figures[f"{earlier}_to_{later}_ms"] = statistics.median(spans) * 1000 if spans else float("nan")
    whole = [record["relayed"] - record["called"] for record in records if "relayed" in record]
    figures["called_to_relayed_ms"] = statistics.median(whole) * 1000 if whole else float("nan")
    for key in ("waits_before_sent", "waits_before_relayed"):
        figures[key] = statistics.median(record.get(key, 0) for record in records) if records else 0
    return figures


def measure(requests: int, rounds: int) -> dict[str, Any]:
    windows: dict[tuple[str, int], list[tuple[float, float]]] = {}
    marks_dir = Path(tempfile.mkdtemp(prefix="colonnade-bench-relay-trace-marks-"))
    traces = {"server": marks_dir / "server.json", "floor": marks_dir / "floor.json"}
    with completions.running(
        "colonnade-bench-relay-trace-",
        PATCH,
        floor_env={TRACE_FILE: str(traces["floor"])},
        server_env_extra={TRACE_FILE: str(traces["server"])},
    ) as processes:
        where = processes.targets()
        names = list(TARGETS)
        for connections in (1, 16):
            for round_ in range(rounds):
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    base, headers, _ = where[name]
                    window = asyncio.run(
                        measure_window(
                            base + TARGETS[name], headers, connections, max(connections, requests // rounds)
                        )
                    )
                    windows.setdefault((name, connections), []).append(window)
    # Both servers were stopped cleanly: they wrote their last marks at exit.
    recorded = {which: json.loads(path.read_text()) for which, path in traces.items() if path.exists()}
    report: dict[str, Any] = {"machine": machine(), "requests": requests, "rounds": rounds, "runs": {}}
    for (name, connections), spans in windows.items():
        records = recorded.get("floor" if name == "floor" else "server", [])
        chosen = [
            record
            for record in records
            if record["path"] == TARGETS[name]
            and any(start <= record["called"] <= end for start, end in spans)
        ]
        report["runs"][f"{name}_c{connections}"] = segments(chosen)
    return report


def render(report: dict[str, Any]) -> str:
    header = (
        "| Target | c | Called → handled | Handled → sent | Sent → answered | Answered → relayed "
        "| Called → relayed | Waits before sent / relayed | Requests |"
    )
    lines = [
        header,
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, run in report["runs"].items():
        name, connections = key.rsplit("_c", 1)
        lines.append(
            f"| {name} | {connections} | {run['called_to_handled_ms']:.3f} ms | {run['handled_to_sent_ms']:.3f} ms "
            f"| {run['sent_to_answered_ms']:.3f} ms | {run['answered_to_relayed_ms']:.3f} ms "
            f"| {run['called_to_relayed_ms']:.3f} ms | {run['waits_before_sent']:g} / {run['waits_before_relayed']:g} "
            f"| {run['requests']} |"
        )
    lines.append(
        f"\nMedians over {report['requests']} streamed requests per target and concurrency in {report['rounds']} "
        f"rounds, warm-up left out. Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=200, help="Measured requests per target and concurrency."
    )
    parser.add_argument("--rounds", type=int, default=4, help="Rounds alternating between the targets.")
    parser.add_argument("--json", metavar="PATH", help="Also write the figures as JSON.")
    args = parser.parse_args(argv)
    report = measure(args.requests, args.rounds)
    publish(render(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
