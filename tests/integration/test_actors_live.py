"""Issue 19 on a live engine: every actor that can reach a tier, endpoint or not.

The four cases of the issue, each twice on the same stack: with the contract silent about the
actor (exit 1, the failing id names the actor, and the owner for a namespace sharer), then with
the contract declaring it (exit 0):

1. a compose service of the project with `network_mode: "service:db"` (compose writes
   `container:<db's id>` on the engine);
2. a compose service of the project with `network_mode: host`;
3. a container outside the project started with `docker run --network container:<db>`;
4. a container outside the project attached to api_tier, a network the project created.

Cases 1 and 2 bring up an extra service of project devonboarder from an override file and remove
it afterwards; cases 3 and 4 use labelled containers of their own (`objects`). The runs probe
too: a sharer's reach shows in db's probe results, the host's in `host-reach` results.
Traffic: only to the test stack's containers, from containers this module made.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
COMPOSE = [
    str(Path(sys.executable).parent / "docker-compose"),
    "-f",
    str(REPO / "docker-compose.test.yaml"),
]
API = "devonboarder_api_tier"
RELIABLE = ("--retries", "2")  # a reachable path slow under load gets two longer attempts

OVERRIDE = """services:
  {name}:
    image: netcontract-test/busybox:local
    pull_policy: never
    init: true
    command: ["sleep", "600"]
    network_mode: "{mode}"
    labels:
      org.netcontract.test: "1"
"""


def run(*argv: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr.strip()}"
    return proc.stdout


def failed(r: Any) -> set[str]:
    return {x["id"] for x in r.verdicts("FAIL")}


@pytest.fixture
def extra_service(stack: Any, tmp_path: Path) -> Iterator[Any]:
    """`add(name, mode)`: one more service of project devonboarder, from an override file; removed afterwards."""
    made: list[tuple[Path, str]] = []

    def add(name: str, mode: str) -> str:
        override = tmp_path / f"{name}.yaml"
        override.write_text(OVERRIDE.format(name=name, mode=mode), encoding="utf-8")
        made.append((override, name))
        run(*COMPOSE, "-f", str(override), "-p", "devonboarder", "up", "-d", "--no-deps", name)
        return stack.container(name)

    yield add
    for override, name in made:
        subprocess.run(
            [*COMPOSE, "-f", str(override), "-p", "devonboarder", "rm", "-fsv", name],
            capture_output=True,
            text=True,
            timeout=180,
        )


# -- 1. a compose service sharing db's namespace ------------------------------------------------------


def test_a_compose_service_in_dbs_namespace(stack, cli, contracts, extra_service):
    debug = extra_service("debug", "service:db")
    mode = run("docker", "inspect", "-f", "{{.HostConfig.NetworkMode}}", debug).strip()
    assert mode.startswith("container:"), mode  # what compose writes for service:db

    r = cli.check(*RELIABLE)
    assert r.code == 1, r
    assert failed(r) == {"namespace:db:debug"}, r
    res = r.result("namespace:db:debug")
    assert (
        res["containers"] == [debug]
        and f"shares the network namespace of db ({stack.container('db')})" in res["reason"]
    )
    # not probed twice: db's probe results are debug's reach too, and say so
    from_db = [x for x in r.report["results"] if x["src"] == "db" and x["attempts"]]
    assert from_db and all(debug in x["containers"] for x in from_db)
    assert any(debug in n and "share" in n for n in r.report["notes"]), r.report["notes"]
    assert not [x for x in r.report["results"] if x["src"] == "debug"]

    declared = contracts.variant(
        lambda c: c["services"].update({"debug": {"network_mode": "service:db"}})
    )
    ok = cli.check(*RELIABLE, contract=declared)
    assert ok.code == 0, ok
    assert (
        ok.result("namespace:db:debug")["verdict"] == "PASS"
        and ok.result("running:debug")["verdict"] == "PASS"
    )


# -- 2. a compose service on the host's network ---------------------------------------------------------


def test_a_compose_service_on_the_host_network(stack, cli, contracts, extra_service):
    agent = extra_service("agent", "host")

    r = cli.check(*RELIABLE)
    assert r.code == 1, r
    assert failed(r) == {"host-network:agent"}, r
    assert "which the contract does not declare" in r.result("host-network:agent")["reason"]
    # the evidence: from the host's namespace, db's port on the internal tier answers
    reached = r.result("host-reach:db:5432@data_tier")
    assert reached["verdict"] == "PASS" and reached["actual"] == "ok", reached
    assert reached["reason"].startswith("reported: ") and agent in reached["containers"]

    declared = contracts.variant(
        lambda c: c["services"].update({"agent": {"network_mode": "host"}})
    )
    ok = cli.check(*RELIABLE, contract=declared)
    assert ok.code == 0, ok
    assert ok.result("host-network:agent")["verdict"] == "PASS"
    assert ok.result("host-reach:db:5432@data_tier")["actual"] == "ok"


def test_host_network_outside_the_project_is_reported_and_denied_on_request(
    stack, cli, contracts, objects
):
    name = objects.container(
        objects.unique("nc-hostnet"), "sleep", "600", options=["--network", "host"]
    )

    r = cli.check(*RELIABLE)
    assert r.code == 0, r
    assert r.result(f"host-network:{name}")["reason"].startswith("reported: ")

    deny = contracts.variant(lambda c: c.setdefault("policy", {}).update({"host_network": "deny"}))
    denied = cli.check(*RELIABLE, contract=deny)
    assert denied.code == 1, denied
    assert f"host-network:{name}" in failed(denied)
    assert "host-reach:db:5432@data_tier" in failed(denied)  # and what the host's namespace reached


# -- 3. a container outside the project in db's namespace ---------------------------------------------


def test_docker_run_in_dbs_namespace(stack, cli, contracts, objects):
    name = objects.unique("nc-netshoot")
    objects.containers.append(
        name
    )  # removed by the fixture; --dns cannot go with a container network
    run(
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "--label",
        "org.netcontract.test=1",
        "--network",
        f"container:{stack.container('db')}",
        "netcontract-test/busybox:local",
        "sleep",
        "600",
    )

    r = cli.check(*RELIABLE)
    assert r.code == 1, r
    assert failed(r) == {f"namespace:db:{name}"}, r
    assert (
        f"{name} shares the network namespace of db" in r.result(f"namespace:db:{name}")["reason"]
    )

    declared = contracts.variant(lambda c: c["services"]["db"].update({"shared_by": [name]}))
    ok = cli.check(*RELIABLE, contract=declared)
    assert ok.code == 0, ok
    assert ok.result(f"namespace:db:{name}")["verdict"] == "PASS"


# -- 4. a container outside the project on a project network ------------------------------------------


def test_a_foreign_container_on_a_project_network(stack, cli, contracts, objects):
    name = objects.container(
        objects.unique("nc-visitor"), "sleep", "600", options=["--network", API]
    )

    r = cli.check(*RELIABLE)
    assert r.code == 1, r
    assert failed(r) == {f"foreign:api_tier:{name}"}, r
    assert "a network created by the project" in r.result(f"foreign:api_tier:{name}")["reason"]

    admitted = contracts.variant(lambda c: c["tiers"]["api_tier"].update({"admit": [name]}))
    ok = cli.check(*RELIABLE, contract=admitted)
    assert ok.code == 0, ok
    assert ok.result(f"foreign:api_tier:{name}")["reason"].startswith("admitted")
