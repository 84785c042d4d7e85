"""Issue 2 on a live engine: structural checks read from the Docker API, exit codes, label matching.

Each mutation test changes one thing about the running stack, checks that
`netcontract check` exits 1 and that the one failing result names the service,
the network and what the contract expected, and leaves the stack restored.
Structural-only runs use --no-probes: the probes have their own module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from netcontract.live.checker import CheckOptions, check
from netcontract.live.runner import RunOptions

pytestmark = pytest.mark.docker

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "devonboarder.yaml"
DATA = "devonboarder_data_tier"
API = "devonboarder_api_tier"
AUTH = "devonboarder_auth_tier"
# Runs that must pass entirely: a reachable path that is slow because the machine
# is loaded gets two longer attempts before it could count as a failure.
RELIABLE = ("--retries", "2")


def failed_ids(run: Any) -> set[str]:
    return {r["id"] for r in run.verdicts("FAIL")}


# -- the healthy stack ----------------------------------------------------------------------


def test_healthy_stack_passes_every_check(healthy_run):
    run = healthy_run.run
    assert run.code == 0, run
    report = run.report
    not_passed = [
        f"{r['verdict']} {r['id']}: {r['reason']}"
        for r in report["results"]
        if r["verdict"] != "PASS"
    ]
    assert not not_passed, "\n".join(not_passed)
    assert report["exit_code"] == 0
    assert report["project"] == "devonboarder"
    assert report["summary"] == {
        "passed": len(report["results"]),
        "failed": 0,
        "errors": 0,
        "skipped": 0,
    }
    # "holds" counts only if the probes ran, from every service, of every kind
    probed = [r for r in report["results"] if r["attempts"]]
    for kind, least in (("reach", 20), ("isolation", 20), ("dns", 20), ("host", 1)):
        assert sum(r["kind"] == kind for r in probed) >= least, kind
    assert {r["src"] for r in probed} >= {
        "traefik",
        "auth-service",
        "backend",
        "discord-integration",
        "dashboard",
        "frontend",
        "db",
    }
    # every kind of check ran, and every service was a probe source
    kinds = {r["kind"] for r in report["results"]}
    assert kinds >= {
        "network",
        "running",
        "networks",
        "alias",
        "foreign",
        "exposure",
        "alias-unique",
        "egress",
        "dns",
        "reach",
        "isolation",
    }
    assert {r["src"] for r in report["results"] if r["kind"] in ("dns", "reach", "isolation")} == {
        "traefik",
        "auth-service",
        "backend",
        "discord-integration",
        "dashboard",
        "frontend",
        "db",
    }


def test_programmatic_check_matches_the_cli_and_prints_nothing(stack, healthy_run, capsys):
    options = CheckOptions(
        run=RunOptions(probe_image="netcontract-test/probe:local", pull=False, retries=2)
    )
    report = check(CONTRACT, options)
    assert capsys.readouterr() == ("", "")
    assert int(report.exit_code) == 0, [r for r in report.results if r.verdict != "PASS"]
    # probe results come in the order sources finish: compare as sets
    assert sorted(r.id for r in report.results) == sorted(healthy_run.run.results)


# -- mutations: each one exits 1 and names service, network and expectation -----------------


def test_backend_disconnected_from_data_tier(stack, cli, restore):
    restore("backend")
    name = stack.container("backend")
    stack.docker("network", "disconnect", DATA, name)

    run = cli.check("--no-probes")

    assert run.code == 1, run
    assert failed_ids(run) == {"networks:backend"}
    r = run.result("networks:backend")
    assert r["expected"] == f"{API}, {AUTH}, {DATA}"
    assert r["actual"] == f"{API}, {AUTH}"
    assert r["reason"] == f"backend ({name}) is not attached to {DATA} (tier data_tier)"

    # the terminal table says the same to a human
    table = cli.check("--no-probes", fmt="table")
    assert table.code == 1
    assert "FAIL  networks:backend" in table.out
    assert f"expected: {API}, {AUTH}, {DATA}" in table.out
    assert f"why:      backend ({name}) is not attached to {DATA} (tier data_tier)" in table.out
    assert "contract VIOLATED" in table.out


def test_frontend_connected_to_data_tier(stack, cli, restore):
    restore("frontend")
    name = stack.container("frontend")
    stack.docker("network", "connect", DATA, name)

    run = cli.check("--no-probes")

    assert run.code == 1, run
    assert failed_ids(run) == {"networks:frontend"}
    r = run.result("networks:frontend")
    assert r["expected"] == API
    assert r["actual"] == f"{API}, {DATA}"
    assert r["reason"] == (
        f"frontend ({name}) is attached to {DATA} (tier data_tier), "
        "which the contract does not give it"
    )
    # frontend is a contract service, so data_tier holds no *foreign* container
    assert run.result("foreign:data_tier")["verdict"] == "PASS"


def test_db_without_its_database_alias(stack, cli, restore):
    restore("db")
    stack.compose(
        "up", "-d", "--wait", "db", files=[stack.assets / "compose.db-without-database-alias.yaml"]
    )
    name = stack.container("db")
    aliases = stack.inspect("db")["NetworkSettings"]["Networks"][DATA]["Aliases"]
    assert (
        "database" not in aliases and "db.devonboarder.internal" in aliases
    )  # the override did its job

    run = cli.check("--no-probes")

    assert run.code == 1, run
    assert failed_ids(run) == {"alias:db@data_tier:database"}
    r = run.result("alias:db@data_tier:database")
    assert r["subject"] == "db@data_tier"
    assert r["expected"] == f"database on {DATA}"
    assert "database" not in r["actual"].replace("db.devonboarder.internal", "")
    assert r["actual"].startswith(f"{name}: ")
    assert r["reason"] == f"db ({name}) does not have alias database on {DATA}"
    assert run.result("alias:db@data_tier:db.devonboarder.internal")["verdict"] == "PASS"


def test_foreign_container_on_data_tier(stack, cli, objects):
    # named like a second db replica, but without compose labels: it is not db
    impostor = objects.container("devonboarder-db-2", "sleep", "300", options=["--network", DATA])

    run = cli.check("--no-probes")

    assert run.code == 1, run
    assert failed_ids(run) == {
        f"foreign:data_tier:{impostor}"
    }  # one id per foreign actor (issue 19)
    r = run.result(f"foreign:data_tier:{impostor}")
    assert r["expected"] == "only auth-service, backend, db"
    assert r["actual"] == impostor and r["containers"] == [impostor]
    assert r["reason"] == (
        f"{impostor} is on {DATA} (tier data_tier): on internal tier data_tier ({DATA}), a network "
        "created by the project, it reaches every member, and it is not a service of the contract "
        "(nor in tiers.data_tier.admit)"
    )
    assert run.result("running:db")["actual"] == f"{stack.container('db')}: running, healthy"


def test_db_publishing_its_port(stack, cli, restore):
    restore("db")
    stack.compose(
        "up", "-d", "--wait", "db", files=[stack.assets / "compose.db-published-port.yaml"]
    )
    name = stack.container("db")

    run = cli.check("--no-probes")

    assert run.code == 1, run
    assert failed_ids(run) == {"exposure:db"}
    r = run.result("exposure:db")
    assert r["expected"] == "no published ports (member of internal data_tier)"
    assert r["actual"] == "127.0.0.1:15432->5432/tcp"
    assert r["reason"] == (
        f"db ({name}) publishes 127.0.0.1:15432->5432/tcp on the host, "
        "which bypasses the isolation of data_tier"
    )


# -- services are matched by labels, never by container name --------------------------------


def test_renamed_container_is_still_its_service(stack, cli, request):
    old = stack.container("backend")
    new = "nc-test-renamed-backend"
    stack.docker("rename", old, new)
    request.addfinalizer(lambda: stack.docker("rename", new, old, check=False))

    run = cli.check(*RELIABLE)

    assert run.code == 0, run
    assert not run.verdicts("FAIL") and not run.verdicts("ERROR")
    assert run.result("running:backend")["actual"] == f"{new}: running, healthy"
    assert run.result("reach:frontend->backend:8001@api_tier")["verdict"] == "PASS"
    assert run.result("reach:backend->db:5432@data_tier")["verdict"] == "PASS"


# -- exit codes 4 and 3: one line on stderr, no traceback ------------------------------------


@pytest.mark.parametrize(
    ("change", "line"),
    [
        pytest.param(
            lambda d: d["services"]["backend"].update(tiers=["api_tier", "auth_tier", "dta_tier"]),
            "services.backend.tiers[2]: unknown tier 'dta_tier' (did you mean 'data_tier'?)",
            id="unknown-tier",
        ),
        pytest.param(
            lambda d: d["services"]["db"].update(port=5432),
            "services.db.port: unknown key (did you mean 'ports'?)",
            id="unknown-key",
        ),
        pytest.param(
            lambda d: d["services"]["db"]["aliases"]["data_tier"].append("Bad Alias!"),
            "services.db.aliases.data_tier[2]: 'Bad Alias!' is not a valid DNS name (lower-case "
            "letters, digits, '-', '_', dot-separated labels of at most 63 characters)",
            id="bad-alias",
        ),
    ],
)
def test_invalid_contract_exits_4_with_one_line(cli, contracts, change, line):
    path = contracts.variant(change)

    code, out, err = cli.check(contract=path)

    assert code == 4, (code, out, err)
    assert out == ""
    (got,) = (
        err.splitlines()
    )  # one line: the file, the line and column of the key, the path, the message
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+:\d+: {re.escape(line)}", got), got
    assert "Traceback" not in err


def test_malformed_yaml_exits_4_with_one_line(cli, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\ntiers: {a: [\n", encoding="utf-8")

    code, out, err = cli.check(contract=path)

    assert code == 4, (code, out, err)
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{path}: malformed YAML: line ")


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_missing_daemon_exits_3_with_one_line(cli, fmt):
    code, out, err = cli.check(fmt=fmt, env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    assert code == 3, (code, out, err)
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("netcontract: cannot reach the Docker engine (unix:///nonexistent.sock)")
    assert "Traceback" not in err
