"""Podman through its Docker-compatible API (issue 21): the pure parts that tell it apart (docs/engines.md)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from netcontract.contract import contract_from_data
from netcontract.live.checker import not_ready
from netcontract.live.docker.engine import (
    container_from_inspect,
    engine_product,
    health_unrun,
    network_from_inspect,
)
from netcontract.live.netns.enter import read_nameservers
from netcontract.live.netns.tasks import choose_resolver, parse_nameservers
from netcontract.notes import health_notes, podman_isolation_notes
from netcontract.results import Kind, Result, Verdict
from netcontract.state import Container, Network, State
from netcontract.structural import structural_results

PODMAN_VERSION = {  # GET /version of Podman 4.3.1's compat API (measured), trimmed
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [
        {"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
        {"Name": "Conmon", "Version": "conmon version 2.1.6, commit: unknown"},
    ],
    "Version": "4.3.1",
    "ApiVersion": "1.41",
    "MinAPIVersion": "1.24",
}
DOCKER_VERSION = {
    "Platform": {"Name": ""},
    "Version": "26.1.5",
    "ApiVersion": "1.45",
    "Components": [
        {"Name": "Engine", "Version": "26.1.5"},
        {"Name": "containerd"},
        {"Name": "runc"},
        {"Name": "docker-init"},
    ],
}


def test_the_engine_is_named_by_its_version_components() -> None:
    assert engine_product(PODMAN_VERSION) == "Podman"
    assert engine_product(DOCKER_VERSION) == "Docker"
    assert (
        engine_product({"Version": "20.10.24", "ApiVersion": "1.41"}) == "Docker"
    )  # no Components at all
    assert engine_product({"Components": ["junk", {"Name": None}]}) == "Docker"


PODMAN_RESOLV = """search dns.podman dns.podman
nameserver 10.89.1.1
nameserver 10.89.2.1
nameserver 10.255.255.53
"""


def test_nameservers_are_read_in_order_and_junk_is_skipped() -> None:
    assert parse_nameservers(PODMAN_RESOLV) == ("10.89.1.1", "10.89.2.1", "10.255.255.53")
    assert parse_nameservers(
        "nameserver fe80::1%eth0\nnameserver nonsense\n# nameserver 1.2.3.4\noptions ndots:0\n"
    ) == ("fe80::1",)
    assert parse_nameservers("") == ()


def test_docker_keeps_its_embedded_dns() -> None:
    gateways = ("10.89.1.1", "10.89.2.1")
    assert choose_resolver(("127.0.0.11",), gateways, "127.0.0.11") == "127.0.0.11"
    assert choose_resolver((), gateways, "127.0.0.11") == "127.0.0.11"  # unreadable resolv.conf
    # Docker's default bridge: resolv.conf holds the host's servers, which netns never asks.
    assert choose_resolver(("10.255.255.53",), gateways, "127.0.0.11") == "127.0.0.11"
    assert choose_resolver(("127.0.0.1",), gateways, "127.0.0.11") == "127.0.0.11"


def test_podman_asks_the_first_gateway_its_resolv_conf_names() -> None:
    ns = parse_nameservers(PODMAN_RESOLV)
    assert choose_resolver(ns, ("10.89.2.1", "10.89.1.1"), "127.0.0.11") == "10.89.1.1"
    assert (
        choose_resolver(ns, ("10.89.2.1",), "127.0.0.11") == "10.89.2.1"
    )  # never the host's upstream


# -- health: a healthcheck Podman never ran (no systemd) ----------------------------------------------------------

STARTED = "2026-12-04T20:48:11.172133631Z"
T0 = 1796417291.172133631  # STARTED as epoch seconds


def inspect(
    status: str = "starting", log: object = None, check: dict[str, int] | None = None
) -> dict[str, object]:
    """Podman 4.3.1's compatible container inspect (measured), trimmed."""
    return {
        "Id": "c" * 64,
        "Name": "/shop-db-1",
        "Config": {
            "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "db"},
            "Healthcheck": check
            if check is not None
            else {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "Timeout": 1_000_000_000},
        },
        "State": {
            "Status": "running",
            "Pid": 42,
            "StartedAt": STARTED,
            "Health": {"Status": status, "FailingStreak": 0, "Log": log},
        },
        "NetworkSettings": {
            "Networks": {"shop_data": {"IPAddress": "10.89.1.5", "Aliases": ["db"]}}
        },
        "HostConfig": {"NetworkMode": "bridge"},
    }


def test_a_healthcheck_is_unrun_only_once_it_was_due_and_never_gave_a_result() -> None:
    due = 1 + 1 + 2  # interval + timeout + 2 s
    assert not health_unrun(inspect(), T0 + due - 0.5)
    assert health_unrun(inspect(), T0 + due + 0.5)
    assert not health_unrun(
        inspect(log=[{"ExitCode": 1}]), T0 + 600
    )  # it ran (and failed): judged as usual
    assert not health_unrun(inspect(status="healthy"), T0 + 600)
    assert not health_unrun(inspect(status="unhealthy"), T0 + 600)
    # Podman's defaults without an interval: 30 s interval, 30 s timeout
    assert not health_unrun(inspect(check={"Test": ["CMD", "true"]}), T0 + 60)
    assert health_unrun(inspect(check={"Test": ["CMD", "true"]}), T0 + 63)
    broken = inspect()
    broken["State"]["StartedAt"] = "yesterday"  # type: ignore[index]
    assert not health_unrun(broken, T0 + 600)


CONTRACT = contract_from_data(
    {
        "version": 1,
        "project": "shop",
        "tiers": {
            "web": {"network": "shop_web"},
            "data": {"network": "shop_data", "internal": True},
        },
        "services": {"db": {"tiers": ["data"], "ports": [5432]}},
    }
)
DB = container_from_inspect(inspect())
NETS = (Network("shop_web", "bridge", False), Network("shop_data", "bridge", True))


def podman_state(*containers: Container, networks: tuple[Network, ...] = NETS) -> State:
    return State("shop", networks, containers, engine="Podman 4.3.1 (API 1.41, client API 1.41)")


def test_docker_behaviour_is_kept_a_starting_container_fails_and_is_not_ready() -> None:
    st = podman_state(DB)
    running = next(r for r in structural_results(CONTRACT, st) if r.id == "running:db")
    assert running.verdict is Verdict.FAIL and running.reason == "shop-db-1 is starting"
    assert not_ready(CONTRACT, st) == ["db"] and health_notes(CONTRACT, st) == []


def test_an_unrun_healthcheck_is_not_judged_and_says_so_once() -> None:
    st = podman_state(replace(DB, health_unrun=True))
    running = next(r for r in structural_results(CONTRACT, st) if r.id == "running:db")
    assert running.verdict is Verdict.PASS
    assert running.actual == "shop-db-1: running, starting (the engine never ran its healthcheck)"
    assert not_ready(CONTRACT, st) == []  # --wait does not wait for it forever
    (note,) = health_notes(CONTRACT, st)
    assert note.startswith("health not judged for db: Podman 4.3.1 never ran") and "systemd" in note


def test_a_podman_gateway_of_nil_is_no_gateway() -> None:
    raw = {
        "Name": "shop_data",
        "Driver": "bridge",
        "Internal": True,
        "IPAM": {"Config": [{"Subnet": "10.89.2.0/24", "Gateway": "<nil>"}]},
    }
    assert network_from_inspect(raw).gateways == ()


def leak(tier: str) -> Result:
    return Result(
        f"isolation:a->b:80@{tier}",
        Kind.ISOLATION,
        "a->b",
        Verdict.FAIL,
        "blocked",
        "ok",
        tier=tier,
    )


def test_isolation_leaks_between_networks_without_isolate_name_the_option() -> None:
    (note,) = podman_isolation_notes(CONTRACT, podman_state(), [leak("web")])
    assert (
        "1 forbidden path(s) connect" in note and "shop_web, shop_data were created without" in note
    )
    assert "`isolate`" in note
    isolated = tuple(replace(n, options=(("isolate", "true"),)) for n in NETS)
    assert podman_isolation_notes(CONTRACT, podman_state(networks=isolated), [leak("web")]) == []
    assert podman_isolation_notes(CONTRACT, podman_state(), []) == []
    docker = State("shop", NETS, (), engine="Docker 26.1.5 (API 1.45)")
    assert podman_isolation_notes(CONTRACT, docker, [leak("web")]) == []


def test_internal_tier_timeouts_on_podman_get_the_measured_reason() -> None:
    stuck = Result(
        "reach:a->b:80@data", Kind.REACH, "a->b", Verdict.FAIL, "reachable", "timeout", tier="data"
    )
    (note,) = podman_isolation_notes(CONTRACT, podman_state(), [stuck])
    assert (
        note.startswith("Podman: members of the internal network(s) shop_data time out")
        and "FORWARD" in note
    )
    assert podman_isolation_notes(CONTRACT, podman_state(), [replace(stuck, tier="web")]) == []


def test_a_resolv_conf_that_is_no_regular_file_is_not_read(tmp_path: Path) -> None:
    good = tmp_path / "resolv.conf"
    good.write_text(PODMAN_RESOLV)
    assert read_nameservers(str(good)) == ("10.89.1.1", "10.89.2.1", "10.255.255.53")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # a container's /etc/resolv.conf could be one: reading it must not block
    assert read_nameservers(str(fifo)) == ()
    link = tmp_path / "link"
    link.symlink_to(good)
    assert read_nameservers(str(link)) == ()
    assert read_nameservers(str(tmp_path / "missing")) == ()
