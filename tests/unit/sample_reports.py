"""Hand-built reports for the reporter tests: the DevOnboarder stack with frontend
accidentally attached to data_tier, so it can reach the database it must never reach."""

from __future__ import annotations

from dataclasses import replace

from netcontract.measures import Startup
from netcontract.results import Report, Result, Verdict

P, F, E, S = Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.SKIP


def _reach(
    src: str, dst: str, port: int, tier: str, verdict: Verdict, actual: str = "ok", reason: str = ""
) -> Result:
    return Result(
        f"reach:{src}->{dst}:{port}@{tier}",
        "reach",
        f"{src}->{dst}",
        verdict,
        f"{dst}:{port} reachable",
        actual,
        reason,
        output=f"{dst} {port} {actual}",
        duration=0.012,
        attempts=1,
        src=src,
        dst=dst,
        tier=tier,
    )


def _isolation(
    src: str,
    dst: str,
    port: int,
    verdict: Verdict,
    actual: str,
    reason: str = "",
    tier: str = "data_tier",
) -> Result:
    return Result(
        f"isolation:{src}->{dst}:{port}@{tier}",
        "isolation",
        f"{src}->{dst}",
        verdict,
        f"{dst}:{port} blocked (timeout or unreachable)",
        actual,
        reason,
        output=f"{dst} {port} {actual}",
        duration=1.002,
        attempts=2,
        src=src,
        dst=dst,
        tier=tier,
    )


def _dns(
    src: str, name: str, verdict: Verdict, expected: str, actual: str, reason: str = ""
) -> Result:
    return Result(
        f"dns:{src}->{name}",
        "dns",
        name,
        verdict,
        expected,
        actual,
        reason,
        output=f"getent hosts {name}\n{actual}",
        duration=0.004,
        attempts=1,
        src=src,
        dst=name,
        tier="data_tier",
    )


STRUCTURAL = (
    Result(
        "network:auth_tier",
        "network",
        "auth_tier",
        P,
        "devonboarder_auth_tier (bridge, not internal)",
        "devonboarder_auth_tier (bridge, not internal)",
    ),
    Result(
        "network:data_tier",
        "network",
        "data_tier",
        P,
        "devonboarder_data_tier (bridge, internal)",
        "devonboarder_data_tier (bridge, internal)",
    ),
    Result(
        "running:db",
        "running",
        "db",
        P,
        "running and healthy",
        "devonboarder-db-1: running, healthy",
    ),
    Result(
        "networks:frontend",
        "networks",
        "frontend",
        F,
        "devonboarder_api_tier",
        "devonboarder_api_tier, devonboarder_data_tier",
        "devonboarder/frontend is attached to devonboarder_data_tier (tier data_tier), "
        "which the contract does not give it",
    ),
    Result(
        "alias:db@data_tier:database",
        "alias",
        "db@data_tier",
        P,
        "database on devonboarder_data_tier",
        "devonboarder-db-1: database, db, db.devonboarder.internal",
    ),
    Result(
        "exposure:db", "exposure", "db", S, "no published ports", "no container", "see running:db"
    ),
)

PROBES = (
    _reach("backend", "db", 5432, "data_tier", P),
    _reach("auth-service", "db", 5432, "data_tier", P),
    _reach("backend", "auth-service", 8002, "auth_tier", P),
    _reach("backend", "auth-service", 8002, "api_tier", P),
    _reach("frontend", "backend", 8001, "api_tier", P),
    _isolation(
        "frontend",
        "db",
        5432,
        F,
        "ok",
        "frontend reached db:5432 in 3 ms: it shares devonboarder_data_tier",
    ),
    _isolation("dashboard", "db", 5432, P, "timeout"),
    _isolation(
        "traefik",
        "db",
        5432,
        E,
        "exec failed",
        "exec in devonboarder-traefik-1 failed: container is restarting",
    ),
    _isolation(
        "discord-integration",
        "db",
        5432,
        S,
        "not probed",
        "discord-integration has no running container",
    ),
    _isolation(
        "db",
        "frontend",
        3000,
        F,
        "refused",
        "refused means db reached frontend's host and nothing listened: that is not isolation",
        tier="api_tier",
    ),
    _dns("backend", "db.devonboarder.internal", P, "172.20.2.3", "172.20.2.3"),
    _dns(
        "frontend",
        "db.devonboarder.internal",
        F,
        "NXDOMAIN",
        "172.20.2.3",
        "the alias exists only on data_tier; frontend is not meant to see it",
    ),
    _dns(
        "dashboard",
        "db.devonboarder.internal",
        E,
        "NXDOMAIN",
        "no resolver tool",
        "no getent, nslookup or python3 in devonboarder-dashboard-1; use --executor sidecar",
    ),
)


def violated() -> Report:
    return Report(
        "contracts/devonboarder.yaml",
        STRUCTURAL + PROBES,
        project="devonboarder",
        duration=1.37,
        notes=("probe image pulled",),
    )


def holds() -> Report:
    keep = tuple(r for r in STRUCTURAL + PROBES if r.verdict is P)
    return Report("contracts/devonboarder.yaml", keep, project="devonboarder", duration=0.8)


def not_evaluated() -> Report:
    keep = tuple(r for r in STRUCTURAL + PROBES if r.verdict in (P, E))
    return Report("contracts/devonboarder.yaml", keep, project="devonboarder", duration=0.9)


def awkward() -> Report:
    """Text that breaks naive reporters: table pipes, newlines, HTML, XML-illegal control characters."""
    r = Result(
        "alias:db@data_tier:db|x",
        "alias",
        "db@data_tier",
        F,
        "a | b\nsecond line",
        "<none>",
        "why & because\r\nmore",
        output="\x1b[31mred\x1b[0m and \x00 nul",
        duration=0.5,
    )
    return Report("contracts/odd|name.yaml", (r,), project=None, duration=0.1)


def measured(comparison: bool = True) -> Report:
    """A live netns report with round trips and start-up times, compared with `violated()`."""
    from netcontract.compare import compare

    results = tuple(
        replace(r, executor="netns", latency_ms=0.08, latency_source="tcp_info")
        if r.kind == "reach" and r.verdict is P
        else replace(r, executor="netns")
        if r.src
        else r
        for r in STRUCTURAL + PROBES
    )
    report = Report(
        "contracts/devonboarder.yaml",
        results,
        project="devonboarder",
        duration=0.3,
        engine="Docker 20.10.24 (API 1.41, client API 1.41)",
        host="ci-1",
        startup=(
            Startup(
                "db", "devonboarder-db-1", "2026-12-04T20:00:00.5Z", "2026-12-04T20:00:01.6Z", 1.1
            ),
            Startup(
                "frontend", "devonboarder-frontend-1", "2026-12-04T20:00:00Z", note="no healthcheck"
            ),
        ),
    )
    return (
        replace(report, comparison=compare(violated(), report, "main.json"))
        if comparison
        else report
    )
