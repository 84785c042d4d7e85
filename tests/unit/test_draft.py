"""`init`'s draft: a valid contract that the stack it came from satisfies, guesses commented."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netcontract.compose.lint import lint_results
from netcontract.compose.loader import load_project
from netcontract.compose.project import ComposeOptions
from netcontract.contract import Contract, contract_from_data, load_contract
from netcontract.draft.build import DraftHints, draft_contract
from netcontract.draft.sources import draft_from_compose
from netcontract.draft.yaml_text import scalar
from netcontract.results import Verdict
from netcontract.state import Container, Endpoint, Network, PublishedPort, State

ROOT = Path(__file__).resolve().parents[2]
DEV_FILE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
TEST_STACK = ROOT / "docker-compose.test.yaml"


def _contract(text: str) -> Contract:
    return contract_from_data(yaml.safe_load(text), "draft")


def _compose_draft(path: Path, **kw: object) -> str:
    return draft_from_compose(
        ComposeOptions(files=(str(path),), environ={}, **kw), "netcontract init"
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [DEV_FILE, TEST_STACK], ids=["dev-file", "test-stack"])
def test_draft_from_compose_passes_lint_against_the_same_files(path: Path) -> None:
    text = _compose_draft(path)
    contract = _contract(text)
    project = load_project(ComposeOptions(files=(str(path),), environ={}))
    bad = [r for r in lint_results(contract, project, {}) if r.verdict is not Verdict.PASS]
    assert bad == []


def test_draft_of_the_dev_file() -> None:
    text = _compose_draft(DEV_FILE)
    c = _contract(text)
    assert c.project == "devonboarder"
    assert {k: t.network for k, t in c.tiers.items()} == {
        "devonboarder_network": "devonboarder_network"
    }
    assert list(c.services) == [
        "traefik",
        "db",
        "auth-service",
        "backend",
        "discord-integration",
        "bot",
        "frontend",
        "dashboard-service",
    ]
    assert c.services["db"].ports == (5432,)
    assert c.services["traefik"].ports == (80, 443, 8080, 8443)
    assert "# cloudflare-tunnel: left out, inactive without --profile tunnel" in text
    assert "# has a healthcheck: check requires it to report healthy" in text
    assert c.policy.allow == ()
    with_profiles = _contract(_compose_draft(DEV_FILE, profiles=("tunnel", "debug")))
    assert {"cloudflare-tunnel", "debug-tools"} <= set(with_profiles.services)


def test_draft_of_the_test_stack_is_the_devonboarder_contract() -> None:
    text = _compose_draft(TEST_STACK)
    draft, real = _contract(text), load_contract(ROOT / "contracts" / "devonboarder.yaml")
    assert {k: (t.network, t.internal) for k, t in draft.tiers.items()} == {
        k: (t.network, t.internal) for k, t in real.tiers.items()
    }
    for name, svc in real.services.items():
        assert set(draft.services[name].tiers) == set(svc.tiers), name
        assert draft.services[name].aliases == svc.aliases, name
        assert draft.services[name].ports == svc.ports, name
    assert set(draft.policy.allow) == set(real.policy.allow)
    assert "[auth_tier, api_tier]  # guessed: the home tier is the first network" in text
    assert "# guessed: derived from memberships" in text


def _live(name: str, service: str, endpoints: tuple[Endpoint, ...], **kw: object) -> Container:
    return Container(
        id=f"{name:0<64}",
        name=name,
        project="shop",
        service=service,
        status="running",
        endpoints=endpoints,
        **kw,
    )  # type: ignore[arg-type]


def test_draft_from_a_live_like_state() -> None:
    web = _live(
        "shop-web-1",
        "web",
        (
            Endpoint(
                "shop_front", aliases=("shop-web-1", "shop-web-100", "web", "www.shop.internal")
            ),  # short id
            Endpoint(
                "shop_back", aliases=("web", "Upper.Case", "db")
            ),  # "db" is db's own name on back
        ),
        health="unhealthy",
    )
    db = _live(
        "shop-db-1",
        "db",
        (Endpoint("shop_back", aliases=("db", "database")),),
        published=(PublishedPort(5432, host_port="5432"),),
    )
    host = _live("shop-agent-1", "agent", (Endpoint("host"),), network_mode="host")
    stranger = Container(
        id="f" * 64,
        name="intruder",
        project="other",
        service="x",
        status="running",
        endpoints=(Endpoint("shop_back"),),
    )
    state = State(
        project="shop",
        networks=(Network("shop_front", "bridge", False), Network("shop_back", "bridge", True)),
        containers=(web, db, host, stranger),
    )
    text = draft_contract(
        state, DraftHints(command="netcontract init --from-live", ports={"web": (8080, 70000)})
    )
    c = _contract(text)
    assert set(c.tiers) == {"front", "back"} and c.tiers["back"].internal
    assert c.services["web"].tiers == ("front", "back")
    assert c.services["web"].aliases == {"front": ("www.shop.internal",)}
    assert c.services["web"].ports == (8080,)
    assert c.services["db"].aliases == {"back": ("database",)}
    assert c.policy.allow == ("front -> back",)
    assert c.services["agent"].network_mode == "host" and c.services["agent"].tiers == ()
    assert "network_mode: host  # the host's network: it reaches every tier's addresses" in text
    assert "healthy: false  # guessed: it was unhealthy when this draft was taken" in text
    assert "alias 'Upper.Case' on back left out: not a lower-case DNS name" in text
    assert "alias db on back left out: db has it too" in text
    assert "publishes 5432->5432/tcp on the host while on internal back" in text
    assert (
        "also attached, not of this stack: x (intruder) (check reports foreign:back:intruder; list it in "
        "`admit` if it belongs here)" in text
    )


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("web", "web"),
        ("yes", '"yes"'),
        ("on", '"on"'),
        ("123", '"123"'),
        ("a b", '"a b"'),
        ("null", '"null"'),
        ("1.5", '"1.5"'),
    ],
)
def test_scalars_read_back_as_strings(text: str, quoted: str) -> None:
    assert scalar(text) == quoted
    assert yaml.safe_load(f"k: {scalar(text)}")["k"] == text


PIHOLE = ROOT / "tests" / "assets" / "compose-corpus" / "awesome-compose" / "pihole-cloudflared-DoH"


@pytest.mark.parametrize("loader", ["builtin", "auto"])
def test_udp_ports_are_named_in_comments_never_dropped(tmp_path: Path, loader: str) -> None:
    """Issue 25: a contract lists TCP ports only; UDP from `ports` and `expose` stays in the draft as a
    comment with the reason, and a service without a TCP port is marked as probed by ICMP only."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  dns:\n    image: x\n    expose: ['53/udp', '5353/udp', '8053']\n    ports: ['67:67/udp']\n"
        "  relay:\n    image: y\n    expose: ['67/udp', '68/udp']\n    ports: ['68:68/udp']\n"
    )
    text = _compose_draft(compose, loader=loader)
    data = yaml.safe_load(text)
    assert data["services"]["dns"]["ports"] == [8053]
    assert "ports" not in data["services"]["relay"]
    assert (
        "    # publishes 67->67/udp: contract ports are TCP (check probes TCP and ICMP), so it is not listed\n"
        "    # exposes 53/udp, 5353/udp: contract ports are TCP (check probes TCP and ICMP), so they are "
        "not listed\n"
    ) in text
    assert (
        "    # no TCP port: check probes it with ICMP echo only\n"
        "    # publishes 68->68/udp: contract ports are TCP (check probes TCP and ICMP), so it is not listed\n"
        "    # exposes 67/udp: contract ports are TCP (check probes TCP and ICMP), so it is not listed\n"
    ) in text  # 68/udp is published: said once


def test_pihole_udp_ports_are_in_its_draft() -> None:
    text = _compose_draft(PIHOLE / "compose.yaml", loader="builtin")
    assert "ports: [53, 80, 443]" in text
    assert "# publishes 53->53/udp, 67->67/udp: contract ports are TCP" in text
    assert "# publishes 5054->5054/udp: contract ports are TCP" in text


def test_live_exposed_ports_split_tcp_from_the_rest() -> None:
    from netcontract.live.docker.engine import exposed_from_inspect, other_exposed_from_inspect

    raw = {"Config": {"ExposedPorts": {"80/tcp": {}, "53/udp": {}, "53/tcp": {}, "5060/sctp": {}}}}
    assert exposed_from_inspect(raw) == (53, 80)
    assert other_exposed_from_inspect(raw) == ("53/udp", "5060/sctp")
    assert other_exposed_from_inspect({"Config": {"ExposedPorts": None}}) == ()


def test_a_live_draft_names_exposed_udp() -> None:
    c = Container(
        "a" * 64,
        "p-dns-1",
        "p",
        "dns",
        "running",
        endpoints=(Endpoint("p_net", "10.0.0.2"),),
        published=(PublishedPort(67, "udp", "0.0.0.0", "67"),),
    )
    st = State("p", (Network("p_net", "bridge", False),), (c,))
    text = draft_contract(
        st,
        DraftHints(
            command="netcontract init --from-live", other_ports={"dns": ("53/udp", "67/udp")}
        ),
    )
    assert "# publishes 0.0.0.0:67->67/udp:" in text
    assert (
        "# exposes 53/udp: contract ports are TCP (check probes TCP and ICMP), so it is not listed"
        in text
    )
