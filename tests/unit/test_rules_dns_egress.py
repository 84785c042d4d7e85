"""DNS egress (CVE-2024-29018): an external name asked of Docker's DNS from a service whose tiers are all
internal must not be forwarded to an upstream resolver. The contract field, the plan, the judge and the
note for old engines, each rule on its own (no daemon).

What was measured (tests/integration/test_paths_live.py repeats it live): Docker 20.10 forwards such a
query, from the container's namespace, and the upstream's answer comes back (records, or NXDOMAIN);
Docker 26.1 answers SERVFAIL itself and sends nothing upstream; a name on a non-internal network is
forwarded on both.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from netcontract.contract import contract_from_data
from netcontract.errors import ContractError
from netcontract.notes import dns_egress_notes
from netcontract.probe.observation import Observation, Outcome, ProbeKind
from netcontract.probe.plan import Expect, Expectation, plan_probes
from netcontract.probe.verdicts import differs, evaluate, proven_leak, to_retry
from netcontract.results import Kind, Verdict
from netcontract.state import Container, Endpoint, Network, State

NAME = "egress-canary.netcontract.test"


def data(**policy: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "project": "shop",
        "tiers": {
            "web": {"network": "shop_web"},
            "data": {"network": "shop_data", "internal": True},
        },
        "services": {
            "front": {"tiers": ["web"]},
            "api": {"tiers": ["web", "data"]},
            "db": {"tiers": ["data"], "ports": [5432], "aliases": {"data": ["database.shop"]}},
        },
        "policy": {"allow": ["web -> data"], **policy},
    }


CONTRACT = contract_from_data(data(dns_egress_names=[NAME, "www.example.org"]))


def ctr(service: str, name: str, *endpoints: tuple[str, str]) -> Container:
    return Container(
        name.ljust(64, "0"),
        name,
        "shop",
        service,
        "running",
        endpoints=tuple(Endpoint(net, ip) for net, ip in endpoints),
    )


DB = ctr("db", "shop-db-1", ("shop_data", "10.2.0.4"))
DB2 = ctr("db", "shop-db-2", ("shop_data", "10.2.0.5"))
STATE = State(
    "shop",
    (Network("shop_web", "bridge", False), Network("shop_data", "bridge", True)),
    (
        ctr("front", "shop-front-1", ("shop_web", "10.1.0.2")),
        ctr("api", "shop-api-1", ("shop_web", "10.1.0.3"), ("shop_data", "10.2.0.3")),
        DB,
    ),
    engine="Docker 20.10.24+dfsg1 (API 1.41)",
)


# -- the contract field ----------------------------------------------------------------------------


def test_dns_egress_names_default_to_none() -> None:
    assert contract_from_data(data()).policy.dns_egress_names == ()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "db",
            "'db' has no dot: give a fully qualified external name, e.g. 'www.your-domain.example'",
        ),
        (
            "database.shop",
            "'database.shop' is a service or alias of this contract, not an external name",
        ),
    ],
)
def test_a_dns_egress_name_must_be_external(name: str, message: str) -> None:
    with pytest.raises(ContractError) as err:
        contract_from_data(data(dns_egress_names=[name]))
    assert f"policy.dns_egress_names[0]: {message}" in str(err.value)


def test_a_dns_egress_name_must_be_a_dns_name() -> None:
    with pytest.raises(ContractError) as err:
        contract_from_data(data(dns_egress_names=["$(touch /tmp/x).com"]))
    assert str(err.value) == (
        "<contract>: policy.dns_egress_names[0]: '$(touch /tmp/x).com' is not a valid DNS "
        "name (lower-case letters, digits, '-', '_', dot-separated labels of at most 63 "
        "characters)"
    )


# -- the plan --------------------------------------------------------------------------------------


def egress_dns(plan_state: State = STATE, contract: Any = CONTRACT) -> dict[str, list[Expectation]]:
    plan = plan_probes(contract, plan_state)
    return {
        s.container.name: [e for e in s.expectations if e.expect is Expect.NO_FORWARD]
        for s in plan.sources
    }


def test_only_internal_only_sources_ask_the_external_names() -> None:
    got = egress_dns()
    assert got["shop-front-1"] == [] and got["shop-api-1"] == []
    assert all(
        (e.src, e.dst, e.tier, e.label, e.port) == ("db", e.targets[0], "", "db", None)
        for e in got["shop-db-1"]
    )
    assert [
        (e.id, e.kind, e.probe_kind, e.targets, e.qtypes, e.context, e.expected)
        for e in got["shop-db-1"]
    ] == [
        (
            f"egress:db->{NAME}:dns",
            Kind.EGRESS,
            ProbeKind.DNS,
            (NAME,),
            ("A",),
            "policy.dns_egress_names",
            "not resolved: Docker's DNS does not forward it (SERVFAIL)",
        ),
        (
            "egress:db->www.example.org:dns",
            Kind.EGRESS,
            ProbeKind.DNS,
            ("www.example.org",),
            ("A",),
            "policy.dns_egress_names",
            "not resolved: Docker's DNS does not forward it (SERVFAIL)",
        ),
    ]


def test_every_replica_asks_and_its_id_names_it() -> None:
    got = egress_dns(replace(STATE, containers=(*STATE.containers, DB2)))
    assert [e.id for e in got["shop-db-2"]] == [
        f"egress:db[shop-db-2]->{NAME}:dns",
        "egress:db[shop-db-2]->www.example.org:dns",
    ]
    assert {e.label for e in got["shop-db-2"]} == {"db[shop-db-2]"}


def test_no_names_no_probe() -> None:
    assert all(not v for v in egress_dns(contract=contract_from_data(data())).values())


# -- the judge -------------------------------------------------------------------------------------


def exp() -> Expectation:
    return egress_dns()["shop-db-1"][0]


def judge(*obs: Observation) -> tuple[Verdict, str]:
    r = evaluate(exp(), obs, source=DB, contract=CONTRACT, state=STATE, control_ok=True)
    return r.verdict, r.reason


def o(outcome: Outcome, *addresses: str, tool: str = "netns", detail: str = "") -> Observation:
    return Observation(outcome, tuple(addresses), detail=detail, tool=tool, qtype="A")


def test_resolved_is_a_way_out() -> None:
    assert judge(o(Outcome.OK, "192.0.2.7")) == (
        Verdict.FAIL,
        f"{NAME} resolves from db to 192.0.2.7: Docker's DNS forwards queries from internal-only "
        "services out of the internal networks, a way out for data (CVE-2024-29018) "
        "[policy.dns_egress_names]",
    )
    assert judge(o(Outcome.OK, "192.0.2.7", "192.0.2.8"))[1].startswith(
        f"{NAME} resolves from db to 192.0.2.7, 192.0.2.8: "
    )


@pytest.mark.parametrize("outcome", [Outcome.NXDOMAIN, Outcome.NODATA])
@pytest.mark.parametrize("tool", ["netns", "nslookup"])
def test_an_upstream_answer_without_records_is_forwarding_too(outcome: Outcome, tool: str) -> None:
    assert judge(o(outcome, tool=tool)) == (
        Verdict.FAIL,
        f"an upstream resolver answered {outcome.value.upper()} for {NAME} asked from db: Docker's "
        "DNS forwards queries from internal-only services out of the internal networks, a way out "
        "for data (CVE-2024-29018) [policy.dns_egress_names]",
    )


@pytest.mark.parametrize("tool", ["getent", "python3", ""])
def test_not_found_from_a_tool_that_cannot_tell_nxdomain_from_servfail_is_error(tool: str) -> None:
    verdict, reason = judge(o(Outcome.NXDOMAIN, tool=tool))
    assert verdict is Verdict.ERROR
    assert reason == (
        f"{tool or 'the probe tool'} cannot tell NXDOMAIN from SERVFAIL, so whether {NAME} was "
        "forwarded is unproven: use the netns executor or an image with nslookup"
    )


def test_servfail_is_not_forwarded() -> None:
    assert judge(o(Outcome.SERVFAIL)) == (
        Verdict.PASS,
        "Docker's DNS answered SERVFAIL: the name did not resolve (it was not forwarded, or its "
        "upstream failed too)",
    )


def test_silence_is_error_never_pass() -> None:
    assert judge(o(Outcome.TIMEOUT)) == (
        Verdict.ERROR,
        f"no DNS answer for {NAME}: whether it was forwarded is unproven (Docker 20.10 forwards "
        "and stays silent when its upstream does not answer)",
    )


def test_a_probe_that_could_not_run_is_error() -> None:
    assert judge(o(Outcome.ERROR, detail="setns failed")) == (
        Verdict.ERROR,
        "probe could not run: setns failed",
    )


def test_a_forwarded_answer_wins_over_an_error_in_another_attempt() -> None:
    assert judge(o(Outcome.ERROR, detail="x"), o(Outcome.OK, "192.0.2.7"))[0] is Verdict.FAIL


# -- retries and evidence ---------------------------------------------------------------------------


def test_silence_is_retried_and_answers_are_not() -> None:
    e = exp()
    assert differs(e, [o(Outcome.TIMEOUT)], True)
    for outcome in (Outcome.SERVFAIL, Outcome.NXDOMAIN, Outcome.OK, Outcome.ERROR):
        assert not differs(
            e, [o(outcome, *(("192.0.2.7",) if outcome is Outcome.OK else ()))], True
        )
    assert to_retry([e], {e.id: [o(Outcome.TIMEOUT)]}) == [e]


def test_a_forwarded_answer_is_evidence_and_servfail_is_not() -> None:
    e = exp()
    assert proven_leak(e, [o(Outcome.OK, "192.0.2.7")])
    assert proven_leak(e, [o(Outcome.NXDOMAIN, tool="nslookup")])
    assert not proven_leak(e, [o(Outcome.NXDOMAIN, tool="getent")])
    assert not proven_leak(e, [o(Outcome.SERVFAIL)])
    assert not proven_leak(e, [o(Outcome.TIMEOUT)])


# -- the note on engines older than the fix ---------------------------------------------------------


def test_an_engine_older_than_the_fix_gets_a_note_when_nothing_probes_it() -> None:
    notes = dns_egress_notes(contract_from_data(data()), STATE)
    assert notes == [
        "DNS egress not probed: Docker 20.10.24+dfsg1 predates Docker 26.0, where the fix for CVE-2024-29018 "
        "landed (backported to 25.0.5 and 23.0.11 upstream; distribution builds may differ): its DNS may forward "
        "external names asked by db out of the internal networks. List a name your resolver answers in "
        "policy.dns_egress_names to probe it"
    ]


@pytest.mark.parametrize(
    ("engine", "contract", "why"),
    [
        ("Docker 26.1.5+dfsg1 (API 1.45)", contract_from_data(data()), "fixed engine"),
        ("Docker 20.10.24 (API 1.41)", CONTRACT, "the contract probes it"),
        ("", contract_from_data(data()), "engine unknown (static)"),
    ],
)
def test_no_note(engine: str, contract: Any, why: str) -> None:
    assert dns_egress_notes(contract, replace(STATE, engine=engine)) == [], why


def test_the_note_names_a_few_services_and_counts_the_rest() -> None:
    d = data()
    for i in range(7):
        d["services"][f"s{i}"] = {"tiers": ["data"]}
    (note,) = dns_egress_notes(contract_from_data(d), STATE)
    assert "asked by db, s0, s1, s2, s3 and 3 more out of the internal networks" in note


def test_no_note_without_an_internal_only_service() -> None:
    d = data()
    d["services"]["db"]["tiers"] = ["web", "data"]
    d["services"]["db"]["aliases"] = {}
    assert dns_egress_notes(contract_from_data(d), STATE) == []
