"""The contract diagram: DOT read back through Graphviz's own JSON output, Mermaid by its lines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from netcontract.contract import Contract, contract_from_data, load_contract
from netcontract.contract_schema import dump
from netcontract.report.graph import FLOW, ORANGE, RED, render_graph
from netcontract.results import Result, Verdict

ROOT = Path(__file__).resolve().parents[2]
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz `dot` is not installed"
)


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(ROOT / "contracts" / "devonboarder.yaml")


def _fail(
    kind: str, subject: str, src: str = "", dst: str = "", verdict: Verdict = Verdict.FAIL
) -> Result:
    return Result(f"{kind}:{subject}", kind, subject, verdict, "e", "a", "why", src=src, dst=dst)


VIOLATIONS = [
    _fail("isolation", "frontend->db", "frontend", "db"),
    _fail(
        "dns", "db.devonboarder.internal", "frontend", "db.devonboarder.internal"
    ),  # alias -> its owner
    _fail("egress", "db->canary", "db", "canary.test"),  # not a service: its own node
    _fail("reach", "backend->db", "backend", "db", Verdict.ERROR),
    _fail("reach", "traefik->backend", "traefik", "backend", Verdict.PASS),  # a pass draws nothing
    _fail("networks", "dashboard"),
    _fail("network", "data_tier"),
]


class DotGraph:
    """Graphviz's own reading of the DOT text (`dot -Tjson`): clusters, nodes, edges."""

    def __init__(self, text: str) -> None:
        done = subprocess.run(
            ["dot", "-Tjson"], input=text, capture_output=True, text=True, check=True
        )
        assert done.stderr == "", done.stderr  # no warnings: every ltail/lhead names a real cluster
        data: dict[str, Any] = json.loads(done.stdout)
        objects = data["objects"]
        self.by_id = {o["_gvid"]: o for o in objects}
        self.clusters = {o["name"]: o for o in objects if o["name"].startswith("cluster_")}
        self.nodes = {o["name"]: o for o in objects if "nodes" not in o}
        self.edges = [
            {**e, "tail": self.by_id[e["tail"]]["name"], "head": self.by_id[e["head"]]["name"]}
            for e in data.get("edges", [])
        ]

    def members(self, cluster: str) -> set[str]:
        return {self.by_id[i]["name"] for i in self.clusters[cluster]["nodes"]}

    def edges_between(self, tail: str, head: str) -> list[dict[str, Any]]:
        return [e for e in self.edges if e["tail"] == tail and e["head"] == head]


@needs_dot
def test_dot_tiers_are_clusters_with_home_services(contract: Contract) -> None:
    g = DotGraph(render_graph(contract, "dot"))
    assert set(g.clusters) == {"cluster_auth_tier", "cluster_api_tier", "cluster_data_tier"}
    assert g.members("cluster_auth_tier") == {"tier:auth_tier", "svc:traefik", "svc:auth-service"}
    assert g.members("cluster_api_tier") == {
        "tier:api_tier",
        "svc:backend",
        "svc:discord-integration",
        "svc:dashboard",
        "svc:frontend",
    }
    assert g.members("cluster_data_tier") == {"tier:data_tier", "svc:db"}


@needs_dot
def test_dot_marks_internal_tiers(contract: Contract) -> None:
    g = DotGraph(render_graph(contract, "dot"))
    data = g.clusters["cluster_data_tier"]
    assert "internal" in data["label"] and "dashed" in data["style"]
    assert "internal" not in g.clusters["cluster_api_tier"]["label"]
    assert "dashed" not in g.clusters["cluster_api_tier"]["style"]


@needs_dot
def test_dot_flows_between_clusters_with_two_heads_when_both_ways(contract: Contract) -> None:
    g = DotGraph(render_graph(contract, "dot"))
    flows = [e for e in g.edges if e.get("color") == FLOW]
    got = {(e["ltail"], e["lhead"], e.get("dir")) for e in flows}
    assert got == {
        ("cluster_auth_tier", "cluster_api_tier", "both"),
        ("cluster_auth_tier", "cluster_data_tier", "forward"),
        ("cluster_api_tier", "cluster_data_tier", "forward"),
    }


@needs_dot
def test_dot_joins_services_to_their_other_tiers(contract: Contract) -> None:
    g = DotGraph(render_graph(contract, "dot"))
    links = set()
    for e in g.edges:
        if e.get("style") == "dashed":
            svc = e["tail"] if e["tail"].startswith("svc:") else e["head"]
            links.add((svc.removeprefix("svc:"), e.get("lhead") or e.get("ltail")))
    assert links == {
        ("traefik", "cluster_api_tier"),
        ("auth-service", "cluster_data_tier"),
        ("backend", "cluster_auth_tier"),
        ("backend", "cluster_data_tier"),
        ("discord-integration", "cluster_auth_tier"),
    }


@needs_dot
def test_dot_isolate_pairs_are_red_dotted_never_edges(contract: Contract) -> None:
    g = DotGraph(render_graph(contract, "dot"))
    never = {(e["tail"], e["head"]) for e in g.edges if e.get("label") == "never"}
    assert never == {
        ("svc:frontend", "svc:db"),
        ("svc:dashboard", "svc:db"),
        ("svc:traefik", "svc:db"),
    }
    assert all(
        e["color"] == RED and e["style"] == "dotted" for e in g.edges if e.get("label") == "never"
    )


@needs_dot
def test_dot_draws_violations(contract: Contract) -> None:
    g = DotGraph(render_graph(contract, "dot", VIOLATIONS))
    (bad,) = [e for e in g.edges_between("svc:frontend", "svc:db") if e.get("label") != "never"]
    assert bad["color"] == RED and bad["label"] == "isolation, dns"
    (egress,) = g.edges_between("svc:db", "ext:canary.test")
    assert egress["color"] == RED and g.nodes["ext:canary.test"]["label"] == "canary.test"
    (error,) = g.edges_between("svc:backend", "svc:db")
    assert error["color"] == ORANGE
    assert not g.edges_between("svc:traefik", "svc:backend")
    assert g.nodes["svc:dashboard"]["color"] == RED
    assert g.clusters["cluster_data_tier"]["color"] == RED
    assert g.nodes["svc:db"].get("color") is None


@needs_dot
def test_dot_renders_to_svg(contract: Contract) -> None:
    dot = render_graph(contract, "dot", VIOLATIONS)
    done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    assert done.stdout.lstrip().startswith("<?xml") and "</svg>" in done.stdout


def test_dot_quotes_names() -> None:
    odd = contract_from_data(
        {
            "version": 1,
            "tiers": {"t": {"network": "net.with.dots"}},
            "services": {"a_b": {"tiers": ["t"]}},
        }
    )
    text = render_graph(odd, "dot")
    assert '"svc:a_b"' in text and "net.with.dots" in text


# -- Mermaid ------------------------------------------------------------------


def _mermaid_parts(text: str) -> tuple[dict[str, list[str]], list[str], dict[int, str]]:
    subgraphs: dict[str, list[str]] = {}
    links, styles = [], {}
    current = None
    for raw in text.splitlines()[1:]:
        line = raw.strip()
        if m := re.match(r"subgraph (\w+)\[", line):
            current = m.group(1)
            subgraphs[current] = []
        elif line == "end":
            current = None
        elif m := re.match(r"linkStyle (\d+) (.*)", line):
            styles[int(m.group(1))] = m.group(2)
        elif current is not None:
            subgraphs[current].append(line.split("[")[0])
        elif re.search(r"(==>|-\.-|-\.->|<==>)", line):
            links.append(line)
    return subgraphs, links, styles


def test_mermaid_groups_services_by_home_tier(contract: Contract) -> None:
    text = render_graph(contract, "mermaid")
    assert text.startswith("flowchart LR\n")
    subgraphs, _, _ = _mermaid_parts(text)
    assert subgraphs == {
        "tier_auth_tier": ["svc_traefik", "svc_auth_2d_service"],
        "tier_api_tier": [
            "svc_backend",
            "svc_discord_2d_integration",
            "svc_dashboard",
            "svc_frontend",
        ],
        "tier_data_tier": ["svc_db"],
    }
    assert 'tier_data_tier["data_tier: internal' in text
    assert re.search(r"style tier_data_tier .*stroke-dasharray", text)


def test_mermaid_every_link_has_exactly_its_style(contract: Contract) -> None:
    _, links, styles = _mermaid_parts(render_graph(contract, "mermaid", VIOLATIONS))
    assert sorted(styles) == list(range(len(links)))
    by_text = dict(zip(links, (styles[i] for i in range(len(links))), strict=True))
    assert "tier_auth_tier <==> tier_api_tier" in by_text
    assert "tier_api_tier ==> tier_data_tier" in by_text
    assert "svc_backend -.- tier_auth_tier" in by_text
    assert RED in by_text["svc_frontend -.->|never| svc_db"]
    assert RED in by_text['svc_frontend ==>|"isolation, dns"| svc_db']
    assert ORANGE in by_text['svc_backend ==>|"reach"| svc_db']
    assert 'svc_db ==>|"egress"| ext_canary_2e_test' in by_text


def test_mermaid_colours_failed_services_and_tiers(contract: Contract) -> None:
    text = render_graph(contract, "mermaid", VIOLATIONS)
    assert re.search(rf"style svc_dashboard .*stroke:{RED}", text)
    assert re.search(rf"style tier_data_tier .*stroke:{RED}", text)
    assert not re.search(r"style svc_traefik ", text)


def test_no_violations_draws_nothing_red_but_never_edges(contract: Contract) -> None:
    text = render_graph(contract, "mermaid")
    red_lines = [ln for ln in text.splitlines() if RED in ln]
    assert len(red_lines) == len(contract.isolated_pairs())


# -- issue 19: services without endpoints of their own ----------------------------------------------


def _with_actors(contract: Contract) -> Contract:
    data = dump(contract, exclude_none=True)
    data["services"]["debug"] = {"network_mode": "service:db"}
    data["services"]["agent"] = {"network_mode": "host"}
    return contract_from_data(data)


def test_mermaid_draws_sharers_beside_their_owner_and_host_services_outside(
    contract: Contract,
) -> None:
    text = render_graph(_with_actors(contract), "mermaid")
    data_tier = text.split("subgraph tier_data_tier")[1].split("  end")[0]
    assert 'svc_debug(["debug<br/>namespace of db"])' in data_tier  # stadium, in db's home tier
    assert "svc_debug -.-|namespace| svc_db" in text
    assert 'svc_agent{{"agent<br/>host network"}}' in text and "svc_agent" not in data_tier
    assert "svc_agent -.->|host network| tier_data_tier" in text
    assert "svc_agent -.->|host network| tier_api_tier" not in text  # only internal tiers
    assert "style svc_debug stroke:" in text and "stroke-dasharray:4 3" in text


def test_dot_draws_sharers_dashed_and_host_services_as_hexagons(contract: Contract) -> None:
    text = render_graph(_with_actors(contract), "dot")
    assert '"svc:debug" [label="debug\\n(namespace of db)", style="rounded,dashed"];' in text
    assert '"svc:agent" [label="agent\\n(host network)", shape="hexagon"' in text
    assert '"svc:debug" -> "svc:db" [label="namespace"' in text
    assert (
        '"svc:agent" -> "tier:data_tier" [lhead="cluster_data_tier", label="host network"' in text
    )
