"""Podman through its Docker-compatible API (issue 21): the pure parts that tell it apart (docs/engines.md)."""

from __future__ import annotations

from netcontract.live.docker.engine import engine_product
from netcontract.live.netns.tasks import choose_resolver, parse_nameservers

PODMAN_VERSION = {  # GET /version of Podman 4.3.1's compat API (measured), trimmed
    "Platform": {"Name": "linux/amd64/debian-12"},
    "Components": [{"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
                   {"Name": "Conmon", "Version": "conmon version 2.1.6, commit: unknown"}],
    "Version": "4.3.1", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
}
DOCKER_VERSION = {"Platform": {"Name": ""}, "Version": "26.1.5", "ApiVersion": "1.45",
                  "Components": [{"Name": "Engine", "Version": "26.1.5"}, {"Name": "containerd"},
                                 {"Name": "runc"}, {"Name": "docker-init"}]}


def test_the_engine_is_named_by_its_version_components() -> None:
    assert engine_product(PODMAN_VERSION) == "Podman"
    assert engine_product(DOCKER_VERSION) == "Docker"
    assert engine_product({"Version": "20.10.24", "ApiVersion": "1.41"}) == "Docker"  # no Components at all
    assert engine_product({"Components": ["junk", {"Name": None}]}) == "Docker"


PODMAN_RESOLV = """search dns.podman dns.podman
nameserver 10.89.1.1
nameserver 10.89.2.1
nameserver 10.255.255.53
"""


def test_nameservers_are_read_in_order_and_junk_is_skipped() -> None:
    assert parse_nameservers(PODMAN_RESOLV) == ("10.89.1.1", "10.89.2.1", "10.255.255.53")
    assert parse_nameservers("nameserver fe80::1%eth0\nnameserver nonsense\n# nameserver 1.2.3.4\noptions ndots:0\n") \
        == ("fe80::1",)
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
    assert choose_resolver(ns, ("10.89.2.1",), "127.0.0.11") == "10.89.2.1"  # never the host's upstream
