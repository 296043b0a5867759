"""Benchmark of SCIM user lookups on the real ``colonnade serve``: ``filter=userName eq`` over 10,000 users.

Run with ``.venv/bin/python bench/scim.py [--backends sqlite,postgres] [--users 10000] [--json PATH]``.
For each database backend, on a fresh database, it:

- provisions ``--users`` users through ``POST /scim/v2/Users`` (8 connections; creates/s);
- shows the plan the database picks for the exact SQL the listing runs (built by
  ``colonnade.plugins.scim.listing.queries``): ``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN ANALYZE``
  on PostgreSQL (after ``ANALYZE``, as autovacuum would run it; the plan before is kept too), for
  ``userName eq`` (the unique index on the lower-cased userName), ``externalId eq``
  (its index) and, for contrast, ``name.givenName eq`` (no index: a scan of every row);
- loads ``GET /scim/v2/Users?filter=...`` for each of the three at 1 and 8 connections (wrk when
  installed): requests/s, p50, p99, server CPU per request, checking first that each finds one user.

PostgreSQL runs in a database of its own, created for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load

from core import Server, colonnade_command, free_port, machine, publish, server_env

TOKEN = "bench-scim-token-" + uuid.uuid4().hex
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def user_body(n: int) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"user{n:05d}@bench.test",
        "externalId": f"ext-{n:05d}",
        "name": {"givenName": f"Given{n:05d}", "familyName": "Bench"},
        "emails": [{"value": f"user{n:05d}@bench.test", "type": "work", "primary": True}],
        "active": True,
    }


async def provision(base_url: str, total: int, connections: int) -> dict[str, Any]:
    """Create ``total`` users on ``connections`` keep-alive connections; creates/s and failures."""
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    failures: list[str] = []
    latencies: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/scim/v2/Users", content=json.dumps(user_body(n)), headers=HEADERS)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "users": total,
        "connections": connections,
        "seconds": elapsed,
        "creates_per_second": total / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
    }


def settings_for(workdir: Path, database_url: str | None) -> Any:
    from colonnade.settings import Settings

    return Settings.from_dict(
        {"server": {"data_dir": str(workdir / "data")}, "database": {"url": database_url} if database_url else {}}
    )


async def explain(settings: Any, backend: str, filters: dict[str, str]) -> dict[str, Any]:
    """The plans of the count and page queries ``GET /Users?filter=...`` runs, per filter."""
    from colonnade import db
    from colonnade.plugins.scim.listing import queries

    apps = {"auth": ["colonnade.auth.models"], "scim": ["colonnade.plugins.scim.models"]}
    context = await db.open_database(settings, apps, migrate=False)
    plans: dict[str, Any] = {}
    try:
        for name, text in filters.items():
            count_query, page_query = queries("User", text, None, False, 1, 100)
            found = {}
            for kind, query in (("count", count_query), ("page", page_query)):
                sql = query.sql(params_inline=True)
                if kind == "count":
                    sql = sql.replace("SELECT ", "SELECT COUNT(*) FROM (SELECT ", 1) + ") AS counted"
                found[kind] = {"sql": sql, "plan": await _plan(settings, backend, sql)}
            plans[name] = found
    finally:
        await db.close_database(context)
    return plans


async def _plan(settings: Any, backend: str, sql: str) -> list[str]:
    if backend == "sqlite":
        with sqlite3.connect(settings.server.data_dir / "colonnade.db") as conn:
            return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    import asyncpg

    conn = await asyncpg.connect(settings.database.url)
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
    finally:
        await conn.close()
    return [row[0] for row in rows]


async def _run(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _postgres(url: str, statement: str) -> None:
    await _run(url.rstrip("/") + "/postgres", statement)


def measure_backend(backend: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    import httpx

    workdir = Path(tempfile.mkdtemp(prefix=f"colonnade-bench-scim-{backend}-"))
    database_url = None
    name = f"colonnade_bench_scim_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        database_url = f"{args.postgres_url.rstrip('/')}/{name}"
        asyncio.run(_postgres(args.postgres_url, f'CREATE DATABASE "{name}"'))
    config = workdir / "colonnade.toml"
    config.write_text(
        f'[server]\ndata_dir = "{workdir / "data"}"\nlog_level = "warning"\n\n'
        f'[host]\nload_plugins = ["scim"]\n\n[plugins.scim]\ntoken = "{TOKEN}"\n'
        + (f'\n[database]\nurl = "{database_url}"\n' if database_url else "")
    )
    results: dict[str, Any] = {"backend": backend, "load_average_at_start": os.getloadavg()}
    port = free_port()
    server = Server.start(colonnade_command(port), port, workdir / "colonnade.log", server_env(config))
    try:
        results["provision"] = asyncio.run(provision(server.base_url, args.users, 8))
        middle = args.users // 2
        filters = {
            "userName eq": f'userName eq "USER{middle:05d}@bench.test"',
            "externalId eq": f'externalId eq "ext-{middle:05d}"',
            "name.givenName eq (no index)": f'name.givenName eq "Given{middle:05d}"',
        }
        settings = settings_for(workdir, database_url)
        if backend == "postgres":
            # Right after a bulk load PostgreSQL has no statistics on the new rows yet and may pick a
            # scan in primary-key order over the unique index; autovacuum's ANALYZE (within a minute
            # of such a load) fixes that. Both plans are kept; the lookups run after ANALYZE.
            results["plans_before_analyze"] = asyncio.run(explain(settings, backend, filters))
            asyncio.run(_run(database_url, "ANALYZE"))
        results["plans"] = asyncio.run(explain(settings, backend, filters))
        results["lookups"] = {}
        for label, text in filters.items():
            path = f"/scim/v2/Users?filter={quote(text)}"
            answer = httpx.get(server.base_url + path, headers=HEADERS, timeout=30).json()
            assert answer["totalResults"] == 1, answer
            target = load.Target("GET", path, {"Authorization": HEADERS["Authorization"]})
            server.load(target, 4, 1, scratch)  # warm-up
            results["lookups"][label] = {
                f"c{c}": server.load(target, c, args.duration, scratch) for c in (1, 8)
            }
    finally:
        server.stop()
        if backend == "postgres":
            asyncio.run(_postgres(args.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def render(report: dict[str, Any]) -> str:
    lines = [f"SCIM lookups over {report['users']:,} users ({report['tool']}, {report['duration_s']} s per run)"]
    for run in report["backends"]:
        made = run["provision"]
        lines += [
            "",
            f"== {run['backend']} ==",
            f"provisioned {made['users']:,} users through POST /scim/v2/Users at c={made['connections']}: "
            f"{made['creates_per_second']:.0f}/s, p50 {made['p50_ms']:.1f} ms, p99 {made['p99_ms']:.1f} ms, "
            f"{made['failures']} failed",
        ]
        before = run.get("plans_before_analyze", {}).get("userName eq")
        if before:
            lines.append("plan for userName eq right after the load, before ANALYZE (page query):")
            lines += [f"  page  | {step}" for step in before["page"]["plan"]]
        for label, plans in run["plans"].items():
            lines.append(f"plan for {label}{' (after ANALYZE)' if before else ''}:")
            for kind in ("count", "page"):
                for step in plans[kind]["plan"]:
                    lines.append(f"  {kind:5} | {step}")
        lines.append(f"{'GET /scim/v2/Users?filter=':34} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11}")
        for label, runs in run["lookups"].items():
            for key, result in runs.items():
                cpu = result.get("server_cpu_us_per_request") or 0
                lines.append(
                    f"{label:34} {key[1:]:>5} {result['requests_per_second']:8.0f} {result['p50_ms']:8.2f} "
                    f"{result['p99_ms']:8.2f} {cpu:11.0f}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="Comma-separated (default both).")
    parser.add_argument("--users", type=int, default=10_000, help="Users provisioned (default 10000).")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds per lookup run (default 5).")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--json", metavar="PATH", help="Also write the raw results as JSON.")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="colonnade-bench-scratch-"))
    report: dict[str, Any] = {
        "machine": machine(),
        "users": args.users,
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
