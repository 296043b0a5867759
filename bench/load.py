"""Load generators for the benchmark: ``wrk`` when installed, else a keep-alive asyncio client.

Both return a :class:`LoadResult`. The Python client is a fallback only: on a 2-core machine it shares the
CPU with the server and saturates well below what hypercorn can serve, so its figures are a floor and the
report says which tool measured them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Target:
    """One HTTP request to repeat: method, path, headers and body."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class LoadResult:
    """Throughput and latency of one run; latencies in milliseconds."""

    tool: str
    connections: int
    seconds: float
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run(base_url: str, target: Target, connections: int, seconds: float, scratch: Path) -> LoadResult:
    """Load ``target`` for ``seconds`` with ``connections`` keep-alive connections."""
    if wrk_path():
        return run_wrk(base_url, target, connections, seconds, scratch)
    return asyncio.run(run_python(base_url, target, connections, seconds))


def start(base_url: str, target: Target, connections: int, seconds: float, scratch: Path) -> Any:
    """Start a run in the background; ``finish(handle)`` waits for it and returns its result."""
    if wrk_path():
        return ("wrk", _start_wrk(base_url, target, connections, seconds, scratch), connections, seconds)
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(lambda: asyncio.run(run_python(base_url, target, connections, seconds)))
    pool.shutdown(wait=False)
    return ("python", future, connections, seconds)


def finish(handle: Any) -> LoadResult:
    tool, running, connections, seconds = handle
    if tool == "python":
        return running.result()
    out, err = running.communicate(timeout=seconds + 60)
    if running.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.strip() or out.strip()}")
    return parse_wrk(out, connections, seconds)


# -- wrk -------------------------------------------------------------------------------------------


def _start_wrk(base_url: str, target: Target, connections: int, seconds: float, scratch: Path) -> Any:
    script = scratch / f"wrk-{target.method.lower()}-{abs(hash((target.path, target.body)))}.lua"
    lines = [f'wrk.method = "{target.method}"']
    if target.body:
        lines.append(f"wrk.body = {_lua_string(target.body.decode())}")
    for name, value in target.headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    script.write_text("\n".join(lines) + "\n")
    # One wrk thread: the machine has two cores and the server needs them more than the client does.
    command = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url + target.path,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_wrk(base_url: str, target: Target, connections: int, seconds: float, scratch: Path) -> LoadResult:
    return finish(("wrk", _start_wrk(base_url, target, connections, seconds, scratch), connections, seconds))


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse_wrk(output: str, connections: int, seconds: float) -> LoadResult:
    """Read requests/s, the 50% and 99% latencies and the failures from ``wrk --latency`` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not (total and rate and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(value) for value in socket_errors.groups())
    return LoadResult(
        tool="wrk",
        connections=connections,
        seconds=_duration_ms(total.group(2) + total.group(3)) / 1000,
        requests=int(total.group(1)),
        requests_per_second=float(rate.group(1)),
        p50_ms=_duration_ms(percentiles["50"]),
        p99_ms=_duration_ms(percentiles["99"]),
        errors=errors,
    )


# -- the Python fallback ---------------------------------------------------------------------------


async def run_python(base_url: str, target: Target, connections: int, seconds: float) -> LoadResult:
    """``connections`` keep-alive HTTP/1.1 connections, each sending its next request on the last answer."""
    host, port = base_url.removeprefix("http://").split(":")
    headers = {"Host": f"{host}:{port}", **target.headers}
    if target.body:
        headers["Content-Length"] = str(len(target.body))
    head = f"{target.method} {target.path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    request = head.encode() + b"\r\n" + target.body
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # hypercorn closes a keep-alive connection after keep_alive_max_requests (1,000):
                    # open a new one, as wrk does, and send the request again.
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if not 200 <= status < 400:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        tool="python",
        connections=connections,
        seconds=elapsed,
        requests=len(latencies),
        requests_per_second=len(latencies) / elapsed,
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        errors=errors,
    )


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]
