"""The kernel's neighbour table: how many entries a netns check needs, and the note when that is more than
the kernel keeps (measured: at 200 containers with gc_thresh3 = 8192, thousands of reachable paths timed
out in the first pass and `dmesg` said "neighbor table overflow"). Pure (no daemon)."""

from __future__ import annotations

from netcontract.contract import contract_from_data
from netcontract.live.netns.executor import neighbour_notes, neighbours_needed
from netcontract.probe.plan import plan_probes
from netcontract.state import Container, Endpoint, Network, State

CONTRACT = contract_from_data(
    {
        "version": 1,
        "project": "p",
        "tiers": {"web": {"network": "p_web"}, "data": {"network": "p_data", "internal": True}},
        "services": {
            "a": {"tiers": ["web"], "ports": [80]},
            "b": {"tiers": ["web", "data"], "ports": [80]},
            "c": {"tiers": ["data"], "ports": [5432]},
        },
        "policy": {"allow": ["web -> data"]},
    }
)


def ctr(service: str, *endpoints: tuple[str, str, str | None]) -> Container:
    return Container(
        f"{service}".ljust(64, "0"),
        f"p-{service}-1",
        "p",
        service,
        "running",
        endpoints=tuple(Endpoint(net, v4, ipv6=v6) for net, v4, v6 in endpoints),
    )


STATE = State(
    "p",
    (
        Network("p_web", "bridge", False, subnets=("10.1.0.0/24",), gateways=("10.1.0.1",)),
        Network("p_data", "bridge", True, subnets=("10.2.0.0/24",), gateways=("10.2.0.1",)),
    ),
    (
        ctr("a", ("p_web", "10.1.0.2", None)),
        ctr("b", ("p_web", "10.1.0.3", None), ("p_data", "10.2.0.3", None)),
        ctr("c", ("p_data", "10.2.0.4", None)),
    ),
)


def test_each_source_counts_its_on_link_targets_and_one_way_out() -> None:
    plan = plan_probes(CONTRACT, STATE)
    # a: b on web (on-link); c's data address is not on a's networks (routed: +1)   -> 2
    # b: a on web, c on data, both on-link; nothing routed                          -> 2
    # c: b on data, and the data gateway (host probe), on-link; a's web address,
    #    routed (+1)                                                                -> 3
    assert neighbours_needed(plan.sources, STATE) == {4: 7, 6: 0}


def test_ipv6_addresses_count_in_their_own_table() -> None:
    state = State(
        "p",
        STATE.networks,
        (
            ctr("a", ("p_web", "10.1.0.2", "fd00::2")),
            ctr("b", ("p_web", "10.1.0.3", "fd00::3"), ("p_data", "10.2.0.3", None)),
            ctr("c", ("p_data", "10.2.0.4", None)),
        ),
    )
    needed = neighbours_needed(plan_probes(CONTRACT, state).sources, state)
    assert needed[6] == 2  # a -> b's fd00::3 and b -> a's fd00::2


def test_a_note_only_past_the_limit() -> None:
    assert neighbour_notes({4: 8000, 6: 10}, {4: 8192, 6: 1024}) == []
    assert neighbour_notes({4: 30000}, {}) == []  # limit unknown: nothing said
    (note,) = neighbour_notes({4: 30000, 6: 10}, {4: 8192, 6: 1024})
    assert note == (
        "kernel neighbour table: these probes need about 30000 IPv4 (ARP) neighbour entries across "
        "the containers' namespaces, more than net.ipv4.neigh.default.gc_thresh3 (8192); past it the "
        "kernel drops packets to new neighbours and reachable paths time out: raise it (and "
        "gc_thresh1/2; docs/performance.md)"
    )
