"""Issue 3 on a live engine: DNS, reachability, isolation and egress probes, and their failure modes.

The probes run inside the containers' network namespaces, through `docker exec`
(busybox services) or a sidecar sharing the namespace (db has no shell at all;
frontend and dashboard have a shell but no probe tools). The rule every test
here defends: a verdict is true, and a probe that could not be made is ERROR,
never PASS.

Traffic: probes only ever target the stack's containers or a canary container
this module starts on a network of its own.
"""

from __future__ import annotations

import re
import signal
import time
from typing import Any

import pytest

pytestmark = pytest.mark.docker

DATA = "devonboarder_data_tier"
API = "devonboarder_api_tier"
AUTH = "devonboarder_auth_tier"
BLOCKED = {"timeout", "unreachable"}  # what a dropped or unroutable probe looks like
TOOLLESS = (
    "db",
    "frontend",
    "dashboard",
)  # db: no shell; frontend, dashboard: dash without nc/nslookup/ping
# Runs whose expected connections must not be lost to a loaded machine: a path
# that should connect gets two longer attempts ...
RELIABLE = ("--retries", "2")
# ... and a leak (expected blocked, observed connected) is never retried, so it
# gets a longer first attempt.
LEAK = ("--timeout", "3")


def probe_results(run: Any, src: str | None = None) -> list[dict[str, Any]]:
    """The results of live probes (their ids carry an arrow), optionally from one source service."""
    return [
        r for r in run.report["results"] if "->" in r["id"] and (src is None or r["src"] == src)
    ]


def failed_ids(run: Any) -> set[str]:
    return {r["id"] for r in run.verdicts("FAIL")}


# -- every probe kind, observed on the healthy stack -------------------------------------------


@pytest.mark.parametrize(
    ("rid", "observed"),
    [
        # DNS: a name resolves to exactly the target's address on the shared tier ...
        pytest.param("dns:backend->db", ("ip", "db", DATA), id="dns-resolves-service-name"),
        pytest.param(
            "dns:traefik->auth.devonboarder.internal",
            ("ip", "auth-service", AUTH),
            id="dns-resolves-alias-on-its-tier",
        ),
        pytest.param("dns:db->backend", ("ip", "backend", DATA), id="dns-resolves-from-bare-db"),
        # ... and does not resolve from outside it (no answer counts once the resolver proved alive; 26.1's
        # resolver answers SERVFAIL where 20.10's is silent)
        pytest.param(
            "dns:frontend->database",
            BLOCKED | {"nxdomain", "servfail"},
            id="dns-alias-absent-off-tier",
        ),
        pytest.param(
            "dns:auth-service->api.devonboarder.internal",
            BLOCKED | {"nxdomain", "servfail"},
            id="dns-alias-absent-on-other-tier-of-same-service",
        ),
        # reach: TCP connects across a shared tier
        pytest.param("reach:frontend->backend:8001@api_tier", {"ok"}, id="reach-from-slim"),
        pytest.param("reach:auth-service->db:5432@data_tier", {"ok"}, id="reach-bare-target"),
        pytest.param("reach:db->backend:8001@data_tier", {"ok"}, id="reach-from-bare"),
        # isolation: dropped, never refused
        pytest.param("isolation:frontend->db:5432@data_tier", BLOCKED, id="isolation-policy-pair"),
        pytest.param("isolation:db->traefik:80@auth_tier", BLOCKED, id="isolation-internal-tier"),
        pytest.param(
            "isolation:auth-service->backend:8001@api_tier",
            BLOCKED,
            id="isolation-other-network-of-shared-service",
        ),
    ],
)
def test_probe_passes_on_healthy_stack(healthy_run, rid, observed):
    r = healthy_run.run.result(rid)
    assert r["verdict"] == "PASS", r
    assert r["attempts"] >= 1  # it was probed, not decided on paper
    if isinstance(observed, tuple):
        _, service, network = observed
        assert r["actual"] == healthy_run.addresses[service, network], r
    else:
        assert r["actual"] in observed, r


def test_egress_structural_passes_on_healthy_stack(healthy_run):
    r = healthy_run.run.result("egress:db")
    assert r["verdict"] == "PASS", r
    assert r["expected"] == "only internal networks (no egress)"
    assert r["actual"] == DATA


# -- executors: sidecar for what has no tools, exec never passes without them ----------------


def test_auto_executor_probes_from_inside_every_namespace_as_root(healthy_run):
    db = probe_results(healthy_run.run, "db")
    assert len(db) >= 15 and all(r["verdict"] == "PASS" for r in db), [
        r for r in db if r["verdict"] != "PASS"
    ]
    # root on the engine's host: netns for every source, tools or not, and no sidecar
    assert {r["executor"] for r in probe_results(healthy_run.run)} == {"netns"}
    assert healthy_run.sidecar_sources == set()


def test_auto_executor_without_netns_uses_exec_and_sidecars(stack, cli_no_netns):
    started = time.time()
    run = cli_no_netns.check(*RELIABLE)
    ended = time.time()

    assert run.code == 0, run
    db = probe_results(run, "db")
    assert len(db) >= 15 and all(r["verdict"] == "PASS" for r in db), [
        r for r in db if r["verdict"] != "PASS"
    ]
    # exec where the tools exist, a sidecar only for the three images without them
    assert stack.sidecar_sources(started, ended) == set(TOOLLESS)
    assert {r["executor"] for r in probe_results(run, "backend")} == {"exec"}
    assert {r["executor"] for r in probe_results(run, "db")} == {"sidecar"}
    note = [n for n in run.report["notes"] if n.startswith("auto: netns not possible")]
    assert note and "CAP_SYS_ADMIN" in note[0], run.report["notes"]


def test_sidecar_executor_probes_every_source_through_sidecars(stack, cli):
    started = time.time()
    run = cli.check("--executor", "sidecar", *RELIABLE)
    ended = time.time()

    assert run.code == 0, run
    assert not [r for r in run.report["results"] if r["verdict"] != "PASS"]
    assert {r["src"] for r in probe_results(run)} == set(stack.services)
    assert stack.sidecar_sources(started, ended) == set(stack.services)


def test_exec_executor_without_tools_is_error_never_pass(stack, cli):
    # the wrong verdicts come from a race, so give it several chances to show
    for _ in range(5):
        run = cli.check("--executor", "exec", *RELIABLE)
        toolless = [r for s in TOOLLESS for r in probe_results(run, s)]
        assert toolless
        wrong = [
            f"{r['verdict']} {r['id']}: {r['actual']}" for r in toolless if r["verdict"] != "ERROR"
        ]
        assert not wrong, "\n".join(wrong)
        assert all(r["reason"] for r in toolless)
        # busybox sources have their tools and still pass
        assert all(r["verdict"] == "PASS" for r in probe_results(run, "backend"))
        assert run.code == 3, run  # ERRORs and no FAIL: could not evaluate
        assert not run.verdicts("FAIL")


def test_exec_executor_on_shell_less_source_explains_the_error(stack, cli):
    run = cli.check("--executor", "exec")
    db = probe_results(run, "db")
    assert db and all(r["verdict"] == "ERROR" for r in db), [
        r for r in db if r["verdict"] != "ERROR"
    ]
    assert all("use --executor auto or sidecar" in r["reason"] for r in db), db[0]["reason"]
    isolation = [r for r in db if r["kind"] == "isolation"]
    assert isolation and all("isolation is unproven" in r["reason"] for r in isolation)


def test_missing_probe_image_is_error_naming_the_option(stack, cli_no_netns):
    image = "netcontract-test/no-such-probe-image:local"
    run = cli_no_netns.check("--probe-image", image, *RELIABLE)

    assert run.code == 3, run
    assert not run.verdicts("FAIL")
    for service in TOOLLESS:
        results = probe_results(run, service)
        assert results and all(r["verdict"] == "ERROR" for r in results), service
        for r in results:
            assert (
                image in r["reason"]
                and "--no-pull" in r["reason"]
                and "--probe-image" in r["reason"]
            ), r
    # sources with their own tools do not need the image
    assert all(r["verdict"] == "PASS" for r in probe_results(run, "backend"))
    # and nothing was pulled
    assert stack.docker("image", "inspect", image, check=False).returncode != 0


# -- violations the probes catch ---------------------------------------------------------------


def test_frontend_joined_to_data_tier_reaches_db(stack, cli, restore):
    restore("frontend")
    stack.docker("network", "connect", DATA, stack.container("frontend"))
    db_ip = stack.ip("db", DATA)

    run = cli.check(*LEAK)

    assert run.code == 1, run
    iso = run.result("isolation:frontend->db:5432@data_tier")
    assert iso["verdict"] == "FAIL"
    assert iso["actual"] == "ok"
    assert iso["expected"] == f"blocked from db's port 5432 on {DATA}"
    assert f"frontend reaches db over {DATA}" in iso["reason"]
    assert f"frontend is attached to {DATA}" in iso["reason"]
    assert "policy.isolate: frontend -> db" in iso["reason"]

    dns = run.result("dns:frontend->database")
    assert dns["verdict"] == "FAIL"
    assert dns["actual"] == db_ip
    assert dns["reason"].startswith(f"database resolves from frontend: {db_ip} is db (")
    assert f"on {DATA}" in dns["reason"]

    assert run.result("networks:frontend")["verdict"] == "FAIL"
    # the other policy pairs still hold
    assert run.result("isolation:dashboard->db:5432@data_tier")["verdict"] == "PASS"
    assert run.result("isolation:traefik->db:5432@data_tier")["verdict"] == "PASS"


def test_backend_off_data_tier_cannot_reach_or_resolve_db(stack, cli, restore):
    restore("backend")
    stack.docker("network", "disconnect", DATA, stack.container("backend"))

    run = cli.check()

    assert run.code == 1, run
    reach = run.result("reach:backend->db:5432@data_tier")
    assert reach["verdict"] == "FAIL"
    assert reach["actual"] in BLOCKED
    assert reach["reason"].startswith(f"backend cannot reach db on {DATA} (")
    assert reach["reason"].endswith(f"because backend is not attached to {DATA}")

    dns = run.result("dns:backend->db")
    assert dns["verdict"] == "FAIL"
    assert dns["reason"].startswith("db does not resolve from backend (")
    assert dns["reason"].endswith(f"because backend is not attached to {DATA}")

    # db -> backend over data_tier: backend has no address there any more, so nothing to probe
    back = run.result("reach:db->backend:8001@data_tier")
    assert back["verdict"] == "FAIL"
    assert back["actual"] == f"backend has no address on {DATA}"
    # backend keeps its other tiers
    assert run.result("reach:backend->traefik:80@api_tier")["verdict"] == "PASS"


def test_refused_port_is_a_failure_not_isolation(stack, cli, contracts):
    path = contracts.variant(lambda d: d["services"]["db"].update(ports=[5432, 5433]))

    run = cli.check(*RELIABLE, contract=path)

    assert run.code == 1, run
    assert failed_ids(run) == {
        "reach:backend->db:5433@data_tier",
        "reach:auth-service->db:5433@data_tier",
    }
    r = run.result("reach:backend->db:5433@data_tier")
    assert r["actual"] == "refused"
    assert r["reason"] == "db is reachable but refuses port 5433: nothing listens there"
    assert run.result("reach:backend->db:5432@data_tier")["verdict"] == "PASS"
    # from off the tier, 5433 is dropped like 5432, not refused
    assert run.result("isolation:frontend->db:5433@data_tier")["actual"] in BLOCKED


# -- egress, against a canary of our own ------------------------------------------------------


def test_egress_canary_blocked_then_reached(stack, cli, contracts, objects, restore):
    net = objects.network(objects.unique("nc-test-canary-net"))
    canary = objects.container(
        objects.unique("nc-test-canary"), "httpd", "-f", "-p", "8080", options=["--network", net]
    )
    ip = stack.docker(
        "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}', canary
    ).stdout.strip()
    deadline = time.monotonic() + 10
    while ":8080 " not in stack.docker("exec", canary, "netstat", "-ltn").stdout:
        assert time.monotonic() < deadline, "the canary's httpd did not start listening"
        time.sleep(0.1)
    path = contracts.variant(
        lambda d: d["policy"].update(egress_canaries=[{"host": ip, "port": 8080}])
    )
    rid = f"egress:db->{ip}:8080"

    # db sits on the internal data_tier only: it has no way to the canary
    blocked = cli.check(*RELIABLE, contract=path)
    assert blocked.code == 0, blocked
    r = blocked.result(rid)
    assert r["verdict"] == "PASS"
    assert r["actual"] in BLOCKED
    assert r["expected"] == "blocked (every tier of the service is internal)"

    # give db a way out: the canary answers, and both the probe and the structural check say so
    restore("db")
    stack.docker("network", "connect", net, stack.container("db"))
    leaked = cli.check(*LEAK, contract=path)
    assert leaked.code == 1, leaked
    r = leaked.result(rid)
    assert r["verdict"] == "FAIL"
    assert r["actual"] == "ok"
    assert r["reason"] == f"db connects to {ip}: it has a way out (policy.egress_canaries)"
    structural = leaked.result("egress:db")
    assert structural["verdict"] == "FAIL"
    assert f"is attached to {net}, which is not internal: a way out" in structural["reason"]


# -- a container dying, Ctrl-C and SIGTERM in the middle of a check ---------------------------


@pytest.mark.parametrize(
    ("service", "executor"),
    [
        pytest.param("traefik", "exec", id="exec-source"),
        # the sidecar outlives its source in an emptied network namespace: the liveness
        # check after probing turns its timeouts into ERRORs. frontend, not db: on Docker 26 an
        # internal-only source's negatives fail at once (no route), so db's sidecar lived 50 ms and
        # was missed (CI, 2026-12-05); frontend's isolation SYNs are dropped and wait the window
        pytest.param("frontend", "sidecar", id="sidecar-source"),
    ],
)
def test_container_killed_mid_check(stack, cli, restore, service, executor):
    restore(service)
    name = stack.container(service)
    proc = cli.start("--executor", executor, "--timeout", "2")
    # kill the source while its own batch runs: its negative probes need the whole 2 s
    # timeout to count as blocked, so none of them can have finished honestly before the kill
    if executor == "exec":
        cli.wait_for(proc, lambda: stack.probe_exec_running(service))
    else:
        # (60 s: the first sidecar on a freshly started engine waits for the probe image's layers to be
        # unpacked, which took more than 20 s once in CI on the second engine)
        cli.wait_for(proc, lambda: bool(stack.sidecars(service, running=True)), timeout=60)
    batch_seen = time.monotonic()
    stack.docker("kill", name)
    assert time.monotonic() - batch_seen < 1.5, "the kill came too late to land inside the batch"

    run = cli.finish(proc, timeout=60)  # no hang

    from_dead = probe_results(run, service)
    negatives = [
        r
        for r in from_dead
        if r["kind"] == "isolation" or r["expected"].startswith("does not resolve")
    ]
    assert negatives
    passed = [f"{r['id']}: {r['actual']}" for r in negatives if r["verdict"] == "PASS"]
    assert not passed, "isolation proven from a container that was dying:\n" + "\n".join(passed)
    assert run.code in (1, 3), run
    errors = [r for r in from_dead if r["verdict"] == "ERROR"]
    assert errors and all(r["reason"] for r in errors)
    # what finished before the kill may stand; everything else says why it is not a pass
    assert all(r["reason"] for r in from_dead if r["verdict"] != "PASS")
    assert not stack.sidecars()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_removes_every_sidecar(stack, cli, sig):
    proc = cli.start("--executor", "sidecar", "--timeout", "2")
    cli.wait_for(proc, lambda: bool(stack.sidecars(running=True)), timeout=60)
    proc.send_signal(sig)

    code, out, err = cli.finish(proc, timeout=60)

    assert code == 130, (code, out, err)
    assert out == ""
    assert err == "netcontract: interrupted; probe containers removed\n"
    assert not stack.sidecars()


# -- readiness and contract safety --------------------------------------------------------------


def test_wait_names_the_service_that_never_came(stack, cli, contracts):
    path = contracts.variant(
        lambda d: d["services"].update(ghost={"tiers": ["api_tier"], "ports": [9999]})
    )

    t0 = time.monotonic()
    code, out, err = cli.check("--wait", "3", contract=path)
    elapsed = time.monotonic() - t0

    assert code == 3, (code, out, err)
    assert out == ""
    assert err.splitlines() == [
        "netcontract: stack not ready after 3s: ghost not running and healthy (project devonboarder)"
    ]
    assert 3 <= elapsed < 30


@pytest.mark.parametrize(
    "name",
    [
        "db;touch pwned",
        "db$(touch pwned)",
        "`touch pwned`",
        "db && touch pwned",
        "db\ntouch pwned",
        "-db",
    ],
)
def test_shell_breaking_service_name_is_rejected_at_load(cli, contracts, name):
    path = contracts.variant(
        lambda d: d["services"].update({name: {"tiers": ["api_tier"], "ports": [1234]}})
    )

    # no engine at all: the contract must be refused before anything is asked of Docker
    code, out, err = cli.check(contract=path, env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    assert code == 4, (code, out, err)
    assert out == ""
    assert err.endswith(
        ": service name is not a valid DNS label (lower-case letters, digits, '-', '_'; "
        "at most 63 characters; no shell metacharacters)\n"
    )
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: services\.", err), (
        err
    )  # file:line:col: the key


def test_shell_breaking_canary_host_is_rejected_at_load(cli, contracts):
    # found by this suite: the host used to load unchecked and crash the runner (traceback, exit 1)
    path = contracts.variant(
        lambda d: d["policy"].update(
            egress_canaries=[{"host": "$(touch /tmp/pwned)", "port": 8080}]
        )
    )

    code, out, err = cli.check(contract=path, env={"DOCKER_HOST": "unix:///nonexistent.sock"})

    assert code == 4, (code, out, err)
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert re.match(
        rf"{re.escape(str(path))}:\d+:\d+: policy\.egress_canaries\[0\]\.host: "
        + re.escape("'$(touch /tmp/pwned)' is not a valid"),
        err,
    ), err
