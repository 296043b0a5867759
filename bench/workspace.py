"""Benchmark of the workspace data plugins (chats, files) on the real ``colonnade serve``.

Run with ``make bench-workspace`` (or ``.venv/bin/python bench/workspace.py [--backends sqlite,postgres]
[--json PATH]``). For each database backend, on a fresh database, it measures:

- an authenticated chat list of one user's 50 chats, ``GET /api/v1/chats/`` (Open WebUI's path) and
  ``GET /api/chats`` (the spec's), at 1 and 32 connections: requests/s, p50, p99;
- 2,000 ``POST /api/v1/chats/new`` on 16 connections (creates/s), then that every chat whose create was
  answered 200 is there, through the API and in the database: none lost;
- a 200 MB upload to ``POST /api/files``, multipart, generated on the fly (the client never holds it), with
  the server's RSS sampled every 50 ms in a thread, then the download with its SHA-256 checked.

It reuses ``core.py``'s machinery: the server subprocess, wrk (or the Python fallback) for the list, RSS
and CPU from ``/proc``. The creates need an exact count and every answer's chat id, which wrk cannot give,
so they use a small keep-alive asyncio client (:func:`create_chats`), whose CPU shares the two cores.

PostgreSQL runs in a database of its own, created for the run and dropped afterwards
(``--postgres-url`` names the server; default ``postgres://postgres@127.0.0.1:5432``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from workspace_report import LIST_PATHS, render

from core import (
    Server,
    colonnade_command,
    free_port,
    machine,
    publish,
    server_env,
    sign_up,
    write_config,
)

MIB = 1024 * 1024
CHATS_LISTED = 50


def chat_document(n: int) -> dict[str, Any]:
    """A chat as Open WebUI's client creates it: the first question, the answer, and the history tree."""
    user_id, reply_id = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = int(time.time())
    user = {
        "id": user_id,
        "parentId": None,
        "childrenIds": [reply_id],
        "role": "user",
        "content": f"Question {n}: how do plugins load?",
        "timestamp": stamp,
        "models": ["llama3.2:1b"],
    }
    reply = {
        "id": reply_id,
        "parentId": user_id,
        "childrenIds": [],
        "role": "assistant",
        "content": "Through entry points, in dependency order. " * 4,
        "model": "llama3.2:1b",
        "done": True,
        "timestamp": stamp,
    }
    return {
        "chat": {
            "id": "",
            "title": f"Bench chat {n}",
            "models": ["llama3.2:1b"],
            "params": {},
            "history": {"messages": {user_id: user, reply_id: reply}, "currentId": reply_id},
            "messages": [user, reply],
            "tags": [],
            "timestamp": stamp * 1000,
        }
    }


# -- fixed-count creates ----------------------------------------------------------------------------


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (x.partition(":") for x in lines[1:])
    }
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
        return int(lines[0].split()[1]), body
    return int(lines[0].split()[1]), await reader.readexactly(int(headers.get("content-length", 0)))


async def create_chats(base_url: str, token: str, total: int, connections: int) -> dict[str, Any]:
    """``total`` creates on ``connections`` keep-alive connections; each answer's chat id is kept."""
    host, port = base_url.removeprefix("http://").split(":")
    bodies = [json.dumps(chat_document(n)).encode() for n in range(total)]
    next_index = iter(range(total))
    ids: list[str] = []
    latencies: list[float] = []
    failures: list[str] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for index in next_index:
                body = bodies[index]
                request = (
                    f"POST /api/v1/chats/new HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                started = time.perf_counter()
                writer.write(request)
                try:
                    status, answer = await _read(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # hypercorn recycled the keep-alive connection before reading this request: the
                    # server never saw it, so it is sent again on a new connection.
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    writer.write(request)
                    status, answer = await _read(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                if status == 200:
                    ids.append(json.loads(answer)["id"])
                else:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "tool": "python",
        "connections": connections,
        "requests": total,
        "seconds": elapsed,
        "creates_per_second": len(ids) / elapsed,
        "p50_ms": load._percentile(latencies, 50),
        "p99_ms": load._percentile(latencies, 99),
        "errors": len(failures),
        "first_errors": failures[:5],
        "ids": ids,
    }


def stored_chat_ids(base_url: str, token: str) -> set[str]:
    """Every chat of the token's user through the spec's list (unpaged, archived or not)."""
    import httpx

    found: set[str] = set()
    for archived in ("false", "true"):
        response = httpx.get(
            base_url + "/api/chats",
            params={"archived": archived},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        response.raise_for_status()
        found |= {item["id"] for item in response.json()}
    return found


async def _count_postgres(url: str, user_id: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM chats_chat WHERE user_id = $1", user_id)
    finally:
        await conn.close()


def count_in_database(database: dict[str, Any], user_id: str) -> int:
    if database["backend"] == "postgres":
        return asyncio.run(_count_postgres(database["url"], user_id))
    with sqlite3.connect(database["path"]) as conn:
        return conn.execute("SELECT count(*) FROM chats_chat WHERE user_id = ?", (user_id,)).fetchone()[0]


# -- the 200 MB upload ------------------------------------------------------------------------------


class RssSampler:
    """Samples the server's RSS every ``interval`` seconds in a thread, between ``start`` and ``stop``."""

    def __init__(self, server: Server, interval: float = 0.05) -> None:
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        while not self._done.is_set():
            self.samples.append((time.perf_counter() - started, self.server.rss_mb()))
            self._done.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def summary(self, before_mb: float) -> dict[str, Any]:
        values = [mb for _, mb in self.samples]
        return {
            "samples": len(values),
            "before_mb": before_mb,
            "min_mb": min(values),
            "max_mb": max(values),
            "growth_mb": max(values) - before_mb,
            "series_mb": [round(mb, 1) for mb in values[:: max(1, len(values) // 40)]],
        }


def multipart_body(size: int, digest: Any, chunk: int = MIB) -> tuple[str, int, Iterator[bytes]]:
    """A multipart body with one ``file`` part of ``size`` pseudo-random bytes, produced chunk by chunk
    (``digest`` is fed the file's bytes on the way): ``(content type, length, chunks)``."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench-200mb.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        rng = random.Random(20261125)
        yield head
        left = size
        while left:
            piece = rng.randbytes(min(chunk, left))
            digest.update(piece)
            left -= len(piece)
            yield piece
        yield tail

    return f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail), chunks()


def upload_and_download(server: Server, token: str, size: int) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    sent = hashlib.sha256()
    content_type, length, body = multipart_body(size, sent)
    before = server.rss_mb()
    with httpx.Client(base_url=server.base_url, timeout=600) as client:
        with RssSampler(server) as upload_rss:
            started = time.perf_counter()
            response = client.post(
                "/api/files",
                content=body,
                headers={**headers, "Content-Type": content_type, "Content-Length": str(length)},
            )
            upload_s = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:500]}")
        record = response.json()
        received = hashlib.sha256()
        received_bytes = 0
        before_download = server.rss_mb()
        with RssSampler(server) as download_rss:
            started = time.perf_counter()
            with client.stream("GET", f"/api/files/{record['id']}", headers=headers) as answer:
                answer.raise_for_status()
                declared = int(answer.headers["content-length"])
                for piece in answer.iter_bytes(MIB):
                    received.update(piece)
                    received_bytes += len(piece)
            download_s = time.perf_counter() - started
        client.delete(f"/api/files/{record['id']}", headers=headers).raise_for_status()
    return {
        "size_mb": size / MIB,
        "upload_s": upload_s,
        "upload_mb_per_s": size / MIB / upload_s,
        "upload_rss": upload_rss.summary(before),
        "stored_size": record["meta"]["size"],
        "stored_sha256_matches": record["meta"].get("file_hash") in (None, sent.hexdigest()),
        "download_s": download_s,
        "download_mb_per_s": received_bytes / MIB / download_s,
        "download_rss": download_rss.summary(before_download),
        "content_length_matches": declared == size,
        "sha256_matches": received.hexdigest() == sent.hexdigest() and received_bytes == size,
    }


# -- a run on one backend ---------------------------------------------------------------------------


async def _postgres(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.rstrip("/") + "/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def database_cpu_seconds(database: dict[str, Any]) -> float:
    """CPU time of the PostgreSQL backends serving the run's database (their command line names it):
    the database's share of the work, which the server's own CPU time leaves out. 0 for SQLite, which
    runs inside the server process."""
    if database["backend"] != "postgres":
        return 0.0
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if database["name"].encode() not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def load_with_database(
    server: Server,
    database: dict[str, Any],
    target: load.Target,
    connections: int,
    seconds: float,
    scratch: Path,
) -> dict[str, Any]:
    before = database_cpu_seconds(database)
    run = server.load(target, connections, seconds, scratch)
    if database["backend"] == "postgres" and run["requests"]:
        run["database_cpu_us_per_request"] = (database_cpu_seconds(database) - before) / run["requests"] * 1e6
    return run


def measure_backend(backend: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"colonnade-bench-{backend}-"))
    config = write_config(workdir)
    database: dict[str, Any] = {"backend": backend, "path": workdir / "data" / "colonnade.db"}
    if backend == "postgres":
        database["name"] = f"colonnade_bench_{uuid.uuid4().hex[:10]}"
        database["url"] = f"{args.postgres_url.rstrip('/')}/{database['name']}"
        asyncio.run(_postgres(args.postgres_url, f'CREATE DATABASE "{database["name"]}"'))
        config.write_text(config.read_text() + f'\n[database]\nurl = "{database["url"]}"\n')
    results: dict[str, Any] = {"backend": backend, "load_average_at_start": os.getloadavg()}
    port = free_port()
    server = Server.start(colonnade_command(port), port, workdir / "colonnade.log", server_env(config))
    try:
        results["idle_rss_mb"] = server.rss_mb()
        sign_up(server.base_url, "admin@bench.test")
        lister = sign_up(server.base_url, "lister@bench.test")
        creator = sign_up(server.base_url, "creator@bench.test")
        asyncio.run(create_chats(server.base_url, lister["token"], CHATS_LISTED, 4))
        auth = {"Authorization": f"Bearer {lister['token']}"}
        # The floor under the list, on the same server: no work at all, then the token check and an
        # empty list (the creator has no chats yet).
        floors = {
            "health": load.Target("GET", "/health"),
            "empty_list": load.Target(
                "GET", LIST_PATHS["v1"], {"Authorization": f"Bearer {creator['token']}"}
            ),
        }
        for name, target in floors.items():
            server.load(target, 4, 1, scratch)  # warm-up
            results[f"{name}_c1"] = load_with_database(server, database, target, 1, args.duration, scratch)
        for name, path in LIST_PATHS.items():
            target = load.Target("GET", path, auth)
            server.load(target, 4, 1, scratch)  # warm-up
            for connections in (1, 32):
                run = load_with_database(server, database, target, connections, args.duration, scratch)
                results[f"list_{name}_c{connections}"] = run
        import httpx

        listed = httpx.get(server.base_url + LIST_PATHS["v1"], headers=auth, timeout=30).json()
        results["chats_listed"] = len(listed)

        before, before_db = server.cpu_seconds(), database_cpu_seconds(database)
        creates = asyncio.run(create_chats(server.base_url, creator["token"], args.creates, 16))
        creates["server_cpu_us_per_request"] = (server.cpu_seconds() - before) / args.creates * 1e6
        if backend == "postgres":
            used = database_cpu_seconds(database) - before_db
            creates["database_cpu_us_per_request"] = used / args.creates * 1e6
        ids = set(creates.pop("ids"))
        stored = stored_chat_ids(server.base_url, creator["token"])
        creates["answered_200"] = len(ids)
        creates["lost_per_api"] = len(ids - stored)
        creates["in_database"] = count_in_database(database, creator["id"])
        creates["lost_per_database"] = max(0, len(ids) - creates["in_database"])
        results["creates"] = creates
        results["rss_after_chats_mb"] = server.rss_mb()
        if args.upload_mb:
            results["upload"] = upload_and_download(server, lister["token"], args.upload_mb * MIB)
        results["rss_at_end_mb"] = server.rss_mb()
    finally:
        server.stop()
        if backend == "postgres":
            drop = f'DROP DATABASE IF EXISTS "{database["name"]}" WITH (FORCE)'
            asyncio.run(_postgres(args.postgres_url, drop))
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="Comma-separated (default both).")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds per list run (default 5).")
    parser.add_argument("--creates", type=int, default=2000, help="Chats created at c=16 (default 2000).")
    parser.add_argument(
        "--upload-mb", type=int, default=200, help="Upload size in MiB; 0 skips (default 200)."
    )
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    args = parser.parse_args(argv)
    if not load.wrk_path():
        print("wrk is not installed: the list uses the Python load generator.", file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(prefix="colonnade-bench-scratch-"))
    report: dict[str, Any] = {
        "machine": machine(),
        "duration_s": args.duration,
        "tool": "wrk" if load.wrk_path() else "python",
        "backends": [],
    }
    try:
        for backend in args.backends.split(","):
            report["backends"].append(measure_backend(backend.strip(), args, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    publish(render(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
