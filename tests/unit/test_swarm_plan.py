"""Swarm support (issue 13), step 3: what is probed on a swarm, and how a swarm check is set up. No daemon."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_swarm_state import CONTRACT, RAW, read

from netcontract.errors import EngineError, UsageError
from netcontract.live.checker import CheckOptions, check, swarm_options
from netcontract.live.runner import ExecutorMode, RunOptions
from netcontract.probe.observation import ProbeKind
from netcontract.probe.plan import Expect, Expectation, plan_probes
from netcontract.results import Kind
from netcontract.state import State
from netcontract.swarm.live import NETNS_PROBLEM, NoNamespaces, SwarmEngine
from netcontract.swarm.nodes import NodeRef, build_state
from netcontract.swarm.plan import swarm_plan

ROOT = Path(__file__).resolve().parents[2]


def state(raw: Mapping[str, Any] = RAW) -> State:
    return build_state(read(raw))


def planned(st: State) -> tuple[dict[str, list[Expectation]], list[str]]:
    plan, notes = swarm_plan(CONTRACT, st, plan_probes(CONTRACT, st))
    return {sp.container.name: list(sp.expectations) for sp in plan.sources}, notes


def ids(exps: list[Expectation]) -> dict[str, Expectation]:
    return {e.id: e for e in exps}


def test_every_task_is_a_source() -> None:
    by_source, notes = planned(state())
    assert len(by_source) == 12 and notes == []


def test_tasks_names_resolve_to_the_task_addresses_on_the_shared_network() -> None:
    st = state()
    by_source, _ = planned(st)
    exps = ids(by_source["nctest_api.1"])
    db = exps["dns:api[nctest_api.1]->tasks.db"]
    want = {
        ep.ipv4 for c in st.service_containers("db") for ep in (c.endpoint("nctest_data"),) if ep
    }
    assert db.expect is Expect.RESOLVE and db.targets == ("tasks.db",) and db.addresses == want
    assert db.groups == (frozenset(want),) and db.tier == "data"
    own = exps[
        "dns:api[nctest_api.1]->tasks.api"
    ]  # its own service: one group per network it is on
    assert own.expect is Expect.RESOLVE and len(own.groups) == 2
    assert (
        "dns:api[nctest_api.1]->tasks.proxy" not in exps
    )  # no shared tier, not isolated: not asked


def test_tasks_names_of_isolated_pairs_must_not_resolve() -> None:
    by_source, _ = planned(state())
    proxy = next(n for n in by_source if n.startswith("nctest_proxy@"))
    exps = ids(by_source[proxy])
    e = exps[f"dns:proxy[{proxy}]->tasks.db"]
    assert e.expect is Expect.NO_RESOLVE and e.context == "policy.isolate: proxy -> db"
    assert exps[f"dns:proxy[{proxy}]->tasks.web"].expect is Expect.RESOLVE


def test_dnsrr_names_keep_the_task_addresses() -> None:
    st = state()
    by_source, _ = planned(st)
    e = ids(by_source["nctest_api.1"])["dns:api[nctest_api.1]->database"]
    assert e.addresses == {ep.ipv4 for c in st.service_containers("db") for ep in c.endpoints}


def with_vip(service: str = "web") -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    svc = next(s for s in raw["services"] if s["Spec"]["Name"] == f"nctest_{service}")
    svc["Spec"]["EndpointSpec"] = {"Mode": "vip"}
    nets = {n["Name"]: n["Id"] for n in raw["networks"]}
    svc["Endpoint"] = {
        "VirtualIPs": [
            {"NetworkID": nets["nctest_edge"], "Addr": "10.99.1.2/24"},
            {"NetworkID": nets["nctest_app"], "Addr": "10.99.2.2/24"},
        ]
    }
    return raw


def test_vip_mode_names_resolve_to_the_virtual_ip_and_it_is_probed_on_the_ports() -> None:
    st = state(with_vip())
    assert set(st.vips) == {("web", "nctest_edge", "10.99.1.2"), ("web", "nctest_app", "10.99.2.2")}
    by_source, notes = planned(st)
    api = ids(by_source["nctest_api.1"])
    name = api["dns:api[nctest_api.1]->web"]
    assert name.addresses == {"10.99.2.2"} and name.groups == (frozenset({"10.99.2.2"}),)
    assert "virtual IP" in name.expected
    tasks = api["dns:api[nctest_api.1]->tasks.web"]  # tasks.<service> stays the task addresses
    assert "10.99.2.2" not in tasks.addresses and len(tasks.addresses) == 3
    vip = api["reach:api[nctest_api.1]->web:8080@app/vip"]
    assert (vip.probe_kind, vip.targets, vip.port, vip.expect) == (
        ProbeKind.TCP,
        ("10.99.2.2",),
        8080,
        Expect.CONNECT,
    )
    assert vip.kind is Kind.REACH
    own = ids(by_source["nctest_web.1"])[
        "dns:web[nctest_web.1]->web"
    ]  # the control: its own VIP, either network
    assert own.control and set(own.groups) == {frozenset({"10.99.1.2"}), frozenset({"10.99.2.2"})}
    assert not [
        e for e in by_source["nctest_db.1"] if e.id.endswith("/vip")
    ]  # db shares nothing with web
    assert any("vip mode: web" in n for n in notes)


def test_a_vip_without_declared_ports_is_said_not_probed() -> None:
    contract = replace(
        CONTRACT, services={**CONTRACT.services, "web": replace(CONTRACT.services["web"], ports=())}
    )
    st = state(with_vip())
    _, notes = swarm_plan(contract, st, plan_probes(contract, st))
    assert any("virtual IPs of web were not probed: no declared port" in n for n in notes)


# -- setting a swarm check up ---------------------------------------------------------------------


def test_swarm_options() -> None:
    compose = replace(CONTRACT, orchestrator="compose")
    assert swarm_options(compose, CheckOptions()) == CheckOptions()
    with pytest.raises(UsageError, match="--node is for Swarm stacks"):
        swarm_options(compose, CheckOptions(nodes=(NodeRef("a", "tcp://x:1"),)))
    assert swarm_options(CONTRACT, CheckOptions()).swarm is True
    with pytest.raises(UsageError, match="netns cannot probe a swarm"):
        swarm_options(CONTRACT, CheckOptions(run=RunOptions(mode=ExecutorMode.NETNS)))
    assert swarm_options(
        CONTRACT, CheckOptions(probes=False, run=RunOptions(mode=ExecutorMode.NETNS))
    ).swarm


def test_check_hands_the_factory_swarm_options_before_touching_an_engine() -> None:
    seen: list[CheckOptions] = []

    def factory(options: CheckOptions) -> Any:
        seen.append(options)
        raise EngineError("stop here")

    with pytest.raises(EngineError):
        check(
            ROOT / "tests" / "swarm" / "contract.yaml",
            CheckOptions(nodes=(NodeRef("n", "tcp://x:1"),)),
            engine_factory=factory,
        )
    assert seen[0].swarm and seen[0].nodes == (NodeRef("n", "tcp://x:1"),)


def test_no_namespaces_says_why_for_every_container() -> None:
    st = state()
    assert all(NoNamespaces().problem(c) == NETNS_PROBLEM for c in st.containers)
    assert NoNamespaces().run([], 0.1).observations == {}


# -- routing probes to the task's node ------------------------------------------------------------


class StubEngine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, str]] = []

    def exec(self, cid: str, argv: list[str]) -> tuple[int | None, str]:
        self.calls.append(("exec", cid))
        return 0, self.name

    def sidecar(
        self,
        cid: str,
        image: str,
        argv: list[str],
        run_id: str,
        timeout: float,
        cancelled: threading.Event | None = None,
    ) -> tuple[int | None, str]:
        self.calls.append(("sidecar", cid))
        return 0, self.name

    def changed(self, started: Mapping[str, str]) -> set[str]:
        self.calls.append(("changed", ",".join(sorted(started))))
        return set()

    def image_problem(self, image: str, pull: bool) -> str | None:
        return "probe image x is not present" if self.name == "ncswarm-node2" else None

    def remove_run(self, run_id: str) -> int:
        return 1

    def close(self) -> None:
        self.calls.append(("close", ""))


def routed(
    unreachable: dict[str, str] | None = None,
) -> tuple[SwarmEngine, State, dict[str, StubEngine]]:
    unreachable = unreachable or {}
    stubs = {
        n: StubEngine(n)
        for n in ("ncswarm-node1", "ncswarm-node2", "ncswarm-node3")
        if n not in unreachable
    }
    eng = SwarmEngine("ncswarm-node1", stubs, unreachable)  # type: ignore[arg-type]
    st = build_state(read(unreachable=unreachable))
    eng._where = {c.id: c.node for c in st.containers}
    eng._blind = {c.id: f"{c.label}: {c.unreadable}" for c in st.containers if c.unreadable}
    return eng, st, stubs


def test_exec_and_sidecar_run_on_the_tasks_own_node() -> None:
    eng, st, stubs = routed()
    for c in st.containers:
        assert eng.exec(c.id, ["true"]) == (0, c.node)
        assert eng.sidecar(c.id, "img", ["true"], "run", 1.0) == (0, c.node)
    assert eng.image_problem("x", False) == "node ncswarm-node2: probe image x is not present"
    assert eng.remove_run("r") == 3
    eng.close()
    assert all(("close", "") in s.calls for s in stubs.values())


def test_a_task_on_an_unreachable_node_cannot_be_probed_and_counts_as_changed() -> None:
    eng, st, stubs = routed({"ncswarm-node3": "tcp://172.18.0.4:2375: connection refused"})
    blind = [c for c in st.containers if c.node == "ncswarm-node3"]
    seen = [c for c in st.containers if c.node != "ncswarm-node3"]
    assert blind and seen
    with pytest.raises(EngineError, match="node ncswarm-node3 was not read"):
        eng.exec(blind[0].id, ["true"])
    with pytest.raises(EngineError, match="ncswarm-node3"):
        eng.sidecar(blind[0].id, "img", ["true"], "run", 1.0)
    with pytest.raises(EngineError, match="not in the last snapshot"):
        eng.exec("0" * 64, ["true"])
    started = {c.id: "t" for c in st.containers}
    assert eng.changed(started) == {c.id for c in blind}
    assert sum(1 for s in stubs.values() for call in s.calls if call[0] == "changed") == 2


def test_the_recorded_raw_is_the_test_bed() -> None:
    assert {n["Description"]["Hostname"] for n in RAW["nodes"]} == {
        "ncswarm-node1",
        "ncswarm-node2",
        "ncswarm-node3",
    }
    assert json.dumps(RAW).count('"encrypted"') >= 1


# -- the command line -----------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from netcontract.cli.main import main

    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.output


@pytest.mark.parametrize("node", ["nourl", "n1=10.0.0.1:2375", "x y=tcp://a:1"])
def test_a_bad_node_option_is_a_usage_error(node: str) -> None:
    code, out = invoke(
        "check", "-c", str(ROOT / "tests" / "swarm" / "contract.yaml"), "--node", node
    )
    assert code == 2 and "--node" in out and "Traceback" not in out


def test_node_with_a_compose_contract_is_a_usage_error_in_one_line() -> None:
    code, out = invoke(
        "check",
        "-c",
        str(ROOT / "contracts" / "devonboarder.yaml"),
        "--node",
        "n=tcp://127.0.0.1:9",
    )
    assert code == 2
    assert (
        out.strip()
        == "netcontract: --node is for Swarm stacks: the contract needs `orchestrator: swarm`"
    )


def test_netns_on_a_swarm_is_a_usage_error_in_one_line() -> None:
    code, out = invoke(
        "check",
        "-c",
        str(ROOT / "tests" / "swarm" / "contract.yaml"),
        "--executor",
        "netns",
        "--node",
        "n=tcp://127.0.0.1:9",
    )
    assert code == 2 and out.count("\n") == 1 and "netns cannot probe a swarm" in out


def test_no_node_answering_is_exit_3_naming_it() -> None:
    # 127.0.0.1:9 (discard) has nothing listening here: refused at once, nothing leaves the machine
    code, out = invoke(
        "check",
        "-c",
        str(ROOT / "tests" / "swarm" / "contract.yaml"),
        "--node",
        "n1=tcp://127.0.0.1:9",
    )
    assert code == 3 and out.count("\n") == 1
    assert out.startswith(
        "netcontract: no swarm manager answers (asked: none; not reached: n1: tcp://127.0.0.1:9"
    )


def test_probes_voided_by_an_unread_node_say_so() -> None:
    from netcontract.results import Result, Verdict
    from netcontract.swarm.nodes import explain_unreadable

    st = build_state(read(unreachable={"ncswarm-node3": "connection refused"}))
    blind = next(c for c in st.containers if c.unreadable)
    svc = blind.service or ""
    void = Result(
        "x",
        Kind.REACH,
        "a->b",
        Verdict.ERROR,
        "",
        "",
        f"{svc} stopped or restarted during the check, so this observation proves nothing",
        src="nobody",
        dst=svc,
    )
    other = Result(
        "y",
        Kind.REACH,
        "a->b",
        Verdict.ERROR,
        "",
        "",
        "probe could not run: x",
        src=svc,
        dst="nobody",
    )
    leak = Result("z", Kind.ISOLATION, "a->b", Verdict.FAIL, "", "", "reaches", src=svc, dst="db")
    got = explain_unreadable([void, other, leak], st)
    assert got[0].verdict is Verdict.ERROR and got[0].reason.startswith("not evaluated: ")
    assert "node ncswarm-node3 was not read (connection refused)" in got[0].reason
    assert got[1:] == [other, leak]


# -- finding the manager and naming the nodes (swarm/live.py _identify, with stub engines) ----------


class _Api:
    def __init__(self, node_id: str, manager: bool) -> None:
        self.node_id, self.manager = node_id, manager

    def info(self) -> dict[str, Any]:
        return {
            "ServerVersion": "20.10.24",
            "Swarm": {
                "NodeID": self.node_id,
                "ControlAvailable": self.manager,
                "LocalNodeState": "active" if self.node_id else "inactive",
            },
        }

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {"ID": f"id{i}", "Description": {"Hostname": f"n{i}"}, "Status": {"State": "ready"}}
            for i in (1, 2, 3)
        ]


class _Eng:
    def __init__(self, node_id: str, manager: bool = False) -> None:
        self.api = _Api(node_id, manager)

    def close(self) -> None: ...


def identify(
    answered: list[tuple[NodeRef, _Eng]], unreachable: dict[str, str] | None = None
) -> SwarmEngine:
    from netcontract.swarm.live import _identify

    return _identify(answered, unreachable or {})  # type: ignore[arg-type]


def test_the_manager_is_found_and_nodes_are_named_by_their_own_engine() -> None:
    eng = identify(
        [
            (NodeRef("n2", "tcp://b:1"), _Eng("id2")),
            (NodeRef("n1", "tcp://a:1"), _Eng("id1", True)),
        ],
        {"n3": "tcp://c:1: connection refused"},
    )
    assert eng.manager == "n1" and sorted(eng.engines) == ["n1", "n2"]
    assert eng.unreachable == {"n3": "tcp://c:1: connection refused"}
    assert (
        eng.version
        == "Docker 20.10.24 (client API ?; swarm: manager n1, 2 of 3 node engines answered)"
    )


def test_a_url_that_answers_as_another_node_is_a_usage_error() -> None:
    with pytest.raises(
        UsageError, match=r"--node n2=tcp://b:1: that engine is swarm node n3, not n2"
    ):
        identify(
            [
                (NodeRef("n1", "tcp://a:1"), _Eng("id1", True)),
                (NodeRef("n2", "tcp://b:1"), _Eng("id3")),
            ]
        )


def test_a_name_that_is_no_node_of_the_swarm_is_a_usage_error() -> None:
    with pytest.raises(
        UsageError,
        match=r"--node n9: no node of this swarm has that hostname \(nodes: n1, n2, n3\)",
    ):
        identify([(NodeRef("n1", "tcp://a:1"), _Eng("id1", True))], {"n9": "refused"})


def test_an_engine_outside_the_swarm_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is not a node of this swarm"):
        identify(
            [
                (NodeRef("n1", "tcp://a:1"), _Eng("id1", True)),
                (NodeRef("n2", "tcp://b:1"), _Eng("")),
            ]
        )


def test_no_manager_among_the_answering_nodes_is_exit_3_listing_them() -> None:
    with pytest.raises(EngineError) as info:
        identify([(NodeRef("n2", "tcp://b:1"), _Eng("id2"))], {"n1": "tcp://a:1: timed out"})
    assert (
        str(info.value)
        == "no swarm manager answers (asked: n2; not reached: n1: tcp://a:1: timed out)"
    )
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("text", "short"),
    [
        (
            "('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))",
            "connection refused",
        ),
        (
            "HTTPConnectionPool(host='10.9.9.9', port=2375): Read timed out. (read timeout=5)",
            "timed out",
        ),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "TLS handshake failed"),
        ("something\nelse", "something else"),
    ],
)
def test_a_remote_engine_error_is_short_and_gives_no_local_socket_advice(
    text: str, short: str
) -> None:
    from netcontract.live.docker.engine import _remote_short

    assert _remote_short(Exception(text)) == short


def test_a_vip_that_fails_where_the_task_addresses_connect_names_ipvs() -> None:
    from netcontract.results import Result, Verdict
    from netcontract.swarm.nodes import VIP_NOTE, explain_vips

    tasks = Result("reach:a->w:80@edge", Kind.REACH, "a->w", Verdict.PASS, "", "ok")
    vip = Result(
        "reach:a->w:80@edge/vip",
        Kind.REACH,
        "a->w",
        Verdict.FAIL,
        "",
        "",
        "a cannot reach w (timeout)",
    )
    lone = Result(
        "reach:b->w:80@edge/vip",
        Kind.REACH,
        "b->w",
        Verdict.FAIL,
        "",
        "",
        "b cannot reach w (timeout)",
    )
    both = Result(
        "reach:c->w:80@edge/vip",
        Kind.REACH,
        "c->w",
        Verdict.FAIL,
        "",
        "",
        "c cannot reach w (timeout)",
    )
    down = Result(
        "reach:c->w:80@edge", Kind.REACH, "c->w", Verdict.FAIL, "", "", "c cannot reach w (timeout)"
    )
    got = explain_vips([tasks, vip, lone, both, down])
    assert (
        got[1].reason == f"a cannot reach w (timeout); {VIP_NOTE}"
        and got[1].verdict is Verdict.FAIL
    )
    assert got[2:] == [lone, both, down] and got[0] == tasks


def test_each_task_must_reach_its_sibling_tasks_on_every_tier() -> None:
    st = state()
    by_source, _ = planned(st)
    web1 = ids(by_source["nctest_web.1"])
    me = next(c for c in st.containers if c.name == "nctest_web.1")
    for tier, net in (("edge", "nctest_edge"), ("app", "nctest_app")):
        e = web1[f"reach:web[nctest_web.1]->web:8080@{tier}"]
        others = {
            ep.ipv4
            for c in st.service_containers("web")
            if c.id != me.id
            for ep in (c.endpoint(net),)
            if ep
        }
        assert (e.expect, e.probe_kind, e.port, set(e.targets)) == (
            Expect.CONNECT,
            ProbeKind.TCP,
            8080,
            others,
        )
        assert len(others) == 2 and me.endpoint(net) is not None
    assert not [
        e for e in by_source["nctest_vault.1"] if e.id.startswith("reach:vault")
    ]  # one task: no sibling
    db = ids(by_source["nctest_db.1"])["reach:db[nctest_db.1]->db:5432@data"]
    assert len(db.targets) == 1


# -- Docker contexts -------------------------------------------------------------------------------


def test_a_node_may_be_a_docker_context() -> None:
    from netcontract.swarm.nodes import parse_node

    assert parse_node("n1=context:prod-n1").url == "context:prod-n1"
    with pytest.raises(UsageError, match="is not a Docker context name"):
        parse_node("n1=context:")
    with pytest.raises(UsageError, match="is not a Docker context name"):
        parse_node("n1=context:-x")


def write_context(
    config: Path, name: str, host: str, tls: dict[str, str] | None = None, skip_verify: bool = False
) -> None:
    """A context as `docker context create` writes it (no config.json)."""
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    meta.joinpath("meta.json").write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}},
            }
        )
    )
    if tls:
        d = config / "contexts" / "tls" / digest / "docker"
        d.mkdir(parents=True)
        for f, text in tls.items():
            d.joinpath(f).write_text(text)


def test_a_context_is_read_as_the_docker_cli_writes_it(tmp_path: Path) -> None:
    from netcontract.live.docker.engine import context_endpoint

    write_context(tmp_path, "plain", "tcp://127.0.0.1:9")
    assert context_endpoint("plain", str(tmp_path)) == ("tcp://127.0.0.1:9", None)
    write_context(
        tmp_path, "secure", "tcp://127.0.0.1:9", {"ca.pem": "x", "cert.pem": "y", "key.pem": "z"}
    )
    host, tls = context_endpoint("secure", str(tmp_path))
    assert host == "tcp://127.0.0.1:9" and tls.verify and tls.cert[0].endswith("/docker/cert.pem")
    write_context(tmp_path, "noverify", "tcp://127.0.0.1:9", {"ca.pem": "x"}, skip_verify=True)
    assert context_endpoint("noverify", str(tmp_path))[1].verify is False
    with pytest.raises(UsageError, match="no Docker context named 'nosuch'"):
        context_endpoint("nosuch", str(tmp_path))


def test_a_context_is_connected_with_its_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from netcontract.live.docker.engine import connect_url

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    # 127.0.0.1:9 (discard): nothing listens here, refused at once, nothing leaves the machine
    write_context(tmp_path, "n1ctx", "tcp://127.0.0.1:9")
    with pytest.raises(EngineError) as info:
        connect_url("context:n1ctx", connect_timeout=2)
    assert (
        str(info.value)
        == "cannot reach the Docker engine at context:n1ctx (tcp://127.0.0.1:9): connection refused"
    )
    with pytest.raises(UsageError, match="no Docker context named 'nosuch'"):
        connect_url("context:nosuch", connect_timeout=2)
