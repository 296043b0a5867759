"""The benchmark's results as a Markdown table: each figure beside its target and Open WebUI's.

Open WebUI's figures are those of issue 2 (Open WebUI 0.12.4 on this kind of machine, measured with wrk).
"""

from __future__ import annotations

from typing import Any

#: ``/health`` throughput that counts as "unchanged" against the bare Quart app.
HEALTH_RATIO_TARGET = 0.90


def _rate(run: dict[str, Any]) -> str:
    text = f"{run['requests_per_second']:,.0f} req/s, p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms"
    if run.get("server_cpu_us_per_request"):
        text += f", {run['server_cpu_us_per_request']:,.0f} µs server CPU/req"
    return text + (f", **{run['errors']} errors**" if run["errors"] else "")


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """``(figure, colonnade, target, verdict, Open WebUI)`` rows."""
    bare = results["bare"]
    table = []
    first, restart = results["first_start_s"], results["restart_s"]
    table.append(
        (
            "Cold start to first `/health` 200, fresh data dir (migrations run)",
            f"{first:.2f} s ({results['first_start_cpu_s']:.2f} s CPU)",
            "≤ 1.0 s",
            _verdict(first <= 1.0),
            "10.4 s",
        )
    )
    if restart is not None:
        table.append(
            (
                "Restart to first `/health` 200 (median)",
                f"{restart:.2f} s ({results['restart_cpu_s']:.2f} s CPU)",
                "≤ 1.0 s",
                _verdict(restart <= 1.0),
                "—",
            )
        )
    if results["restarts_s"]:
        first_rss = results["first_start_rss_mb"]
        table.append(
            (
                "RSS right after the first start (every migration just applied)",
                f"{first_rss:.0f} MB",
                "≤ 80 MB",
                _verdict(first_rss <= 80),
                "—",
            )
        )
    idle = "a restart" if results["restarts_s"] else "the first start"
    table.append(
        (
            f"Idle RSS after {idle}",
            f"{results['idle_rss_mb']:.0f} MB",
            "≤ 80 MB",
            _verdict(results["idle_rss_mb"] <= 80),
            "788 MB",
        )
    )
    for connections, webui in ((1, "1,376 req/s"), (32, "1,585 req/s, p99 39 ms")):
        ours, theirs = results[f"health_c{connections}"], bare[f"health_c{connections}"]
        ratio = ours["requests_per_second"] / theirs["requests_per_second"]
        cpu_ratio = theirs["server_cpu_us_per_request"] / ours["server_cpu_us_per_request"]
        table.append(
            (f"Bare Quart on hypercorn `/health`, c={connections}", _rate(theirs), "(baseline)", "—", "—")
        )
        table.append(
            (
                f"`/health`, c={connections}",
                f"{_rate(ours)}: **{ratio:.0%}** of bare Quart's req/s ({cpu_ratio:.0%} by CPU per request)",
                "≥ 90% of bare Quart",
                _verdict(ratio >= HEALTH_RATIO_TARGET),
                webui,
            )
        )
    for connections in (1, 32):
        run = results[f"signin_c{connections}"]
        target = "p50 ≤ 100 ms" if connections == 1 else "—"
        verdict = _verdict(run["p50_ms"] <= 100 and not run["errors"]) if connections == 1 else "—"
        table.append(
            (
                f"`POST /api/auth/signin` (argon2id, OWASP), c={connections}",
                _rate(run),
                target,
                verdict,
                "p50 225 ms (bcrypt)" if connections == 1 else "—",
            )
        )
    for connections in (1, 32):
        table.append(
            (
                f"`GET /api/users` (admin token), c={connections}",
                _rate(results[f"users_c{connections}"]),
                "—",
                "—",
                "—",
            )
        )
    quiet, busy = results["health_c1"], results["health_c1_during_signins"]
    background = results["signins_in_background"]
    unchanged = busy["p99_ms"] < results["argon2_verify_ms"]
    table.append(
        (
            (
                f"`/health` c=1 p99 while {background['connections']} connections sign in "
                f"({background['requests_per_second']:.0f} sign-ins/s)"
            ),
            (
                f"p99 {busy['p99_ms']:.2f} ms (quiet: {quiet['p99_ms']:.2f} ms), "
                f"{busy['requests_per_second']:,.0f} req/s"
            ),
            "unchanged (no request waits behind a hash)",
            _verdict(unchanged),
            "—",
        )
    )
    table.append(("RSS after the load runs", f"{results['rss_after_load_mb']:.0f} MB", "—", "—", "—"))
    return table


def render(results: dict[str, Any]) -> str:
    lines = [
        "| Figure | Colonnade | Target | Verdict | Open WebUI 0.12.4 |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows(results)]
    machine = results["machine"]
    load = ", ".join(f"{value:.2f}" for value in machine["load_average_at_start"])
    lines += [
        "",
        (
            f"Load tool: {results['tool']}; {results['duration_s']:.0f} s per run; `/health` is the best of "
            f"{results['rounds']} rounds alternating with bare Quart. Machine: {machine['cpu']}, "
            f"{machine['cores']} cores, Python {machine['python']}, {machine['system']}; "
            f"load average at start {load}."
        ),
        (
            f"One argon2id verification (19 MiB, 2 passes, 1 lane) takes {results['argon2_verify_ms']:.1f} ms "
            f"here. Start-up CPU split: the interpreter alone {results['interpreter_cpu_s']:.2f} s, importing "
            f"what `serve` needs (quart, quart-schema, hypercorn, tortoise, colonnade) "
            f"{results['imports_cpu_s']:.2f} s. Bare Quart idle RSS: {results['bare']['rss_mb']:.0f} MB. "
            f"Plugins loaded: {', '.join(results['plugins'])} (plus the core's system, auth and introspection)."
        ),
    ]
    return "\n".join(lines)
