"""The judge: observations -> verdicts. Pure, and the only module that decides one.

The rules that keep a verdict true live here and nowhere else: a probe that
could not run is ERROR; `refused` is reachable, never isolated; a DNS timeout
counts as "does not resolve" only when the same source's resolver answered its
own name in the same batch; a container that stopped or restarted during the
check voids what was observed from or to it, unless it proved a leak. The
runner asks this module which observations deserve another attempt
(`to_retry`) and hands it every observation at the end (`judge_source`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from netcontract.addresses import family_of
from netcontract.contract import Contract
from netcontract.probe.observation import Observation, Outcome, path_latency
from netcontract.probe.plan import Expect, Expectation, SourcePlan
from netcontract.results import Kind, Result, Verdict, pair
from netcontract.state import Container, State

_BLOCKED = (Outcome.TIMEOUT, Outcome.UNREACHABLE)


def _owner(state: State, ip: str) -> str:
    for c in state.containers:
        for ep in c.endpoints:
            if ip in ep.addresses:
                return f"{c.label} on {ep.network}"
    return "no container of this snapshot"


def _networks_of(state: State, ip: str) -> list[str]:
    return [ep.network for c in state.containers for ep in c.endpoints if ip in ep.addresses]


def _observed(obs: Sequence[Observation]) -> str:
    parts = []
    for o in obs:
        if o.addresses:
            parts.append(", ".join(o.addresses))
        else:
            parts.append(
                o.outcome.value
                + (f" ({o.detail})" if o.detail and o.outcome is Outcome.ERROR else "")
            )
    return "; ".join(dict.fromkeys(parts))


def evaluate(
    exp: Expectation,
    obs: Sequence[Observation],
    *,
    source: Container,
    contract: Contract,
    state: State,
    control_ok: bool,
    duration: float = 0.0,
    attempts: int = 1,
    executor: str = "",
) -> Result:
    """Judge one expectation from its observations (one per target) into its Result.

    `control_ok` says whether the source's resolver answered its own name in the same batch; `duration`,
    `attempts` and `executor` (whose code made the observations) are reported as given.
    """
    verdict, reason = _judge(exp, obs, source, contract, state, control_ok)
    output = "\n".join(
        f"[{o.tool or '?'}:{exp.targets[i] if i < len(exp.targets) else '?'}] {o.output}".rstrip()
        for i, o in enumerate(obs)
    )
    latency, how = path_latency(obs)
    return Result(
        exp.id,
        exp.kind,
        pair(exp.label or exp.src, exp.dst),
        verdict,
        exp.expected,
        _observed(obs),
        reason,
        output=output,
        duration=duration,
        attempts=attempts,
        src=exp.src,
        dst=exp.dst,
        tier=exp.tier,
        containers=(source.name,),
        latency_ms=latency,
        latency_source=how,
        executor=executor,
    )


def _judge(
    exp: Expectation,
    obs: Sequence[Observation],
    source: Container,
    contract: Contract,
    state: State,
    control_ok: bool,
) -> tuple[Verdict, str]:
    errors = [o for o in obs if o.outcome is Outcome.ERROR]
    if not obs:
        return Verdict.ERROR, "no observation"
    network = contract.tiers[exp.tier].network if exp.tier in contract.tiers else ""
    attached = bool(network) and source.endpoint(network) is not None
    if exp.expect is Expect.CONNECT:
        if all(o.outcome is Outcome.OK for o in obs):
            return Verdict.PASS, ""
        bad = next(o for o in obs if o.outcome is not Outcome.OK)
        if bad.outcome is Outcome.ERROR:
            return Verdict.ERROR, f"probe could not run: {bad.detail}"
        if bad.outcome is Outcome.REFUSED:
            return (
                Verdict.FAIL,
                f"{exp.dst} is reachable but refuses port {exp.port}: nothing listens there",
            )
        why = "" if attached else f" because {exp.src} is not attached to {network}"
        return (
            Verdict.FAIL,
            f"{exp.src} cannot reach {exp.dst} on {network} ({bad.outcome.value}){why}",
        )
    if exp.expect is Expect.BLOCKED:
        leaks = [o for o in obs if o.connected]
        if leaks:
            how = (
                "connects"
                if leaks[0].outcome is Outcome.OK
                else "gets `refused` (reachable, nothing listening)"
            )
            if exp.kind is Kind.EGRESS:
                return (
                    Verdict.FAIL,
                    f"{exp.src} {how} to {exp.dst}: it has a way out ({exp.context})",
                )
            if exp.kind is Kind.HOST_REACH:
                what = f"port {exp.port}" if exp.port else "ICMP echo"
                seen = f"{exp.dst} answers {exp.context.split(' [')[0]} ({what}, {how})"
                if exp.report_only:
                    return (
                        Verdict.PASS,
                        f"reported: {seen}; `policy.host_network: deny` makes it a failure",
                    )
                return (
                    Verdict.FAIL,
                    f"{seen}: internal stops forwarding, not the host [policy.host_network: deny]",
                )
            if exp.kind is Kind.HOST:
                what = f"port {exp.port}" if exp.port else "ICMP echo"
                seen = f"the Docker host answers {exp.src} at {exp.dst} ({what})"
                if exp.report_only:
                    return (
                        Verdict.PASS,
                        f"{seen}: engines allow this by design; `host: deny` on the tier fails it",
                    )
                return Verdict.FAIL, f"{seen} [{exp.context}]"
            cause = _leak_cause(exp, contract, network, attached)
            rule = f" [{exp.context}]" if exp.context.startswith("policy.") else ""
            return Verdict.FAIL, f"{exp.src} reaches {exp.dst} over {network} ({how}) {cause}{rule}"
        if errors:
            return (
                Verdict.ERROR,
                f"probe could not run, so isolation is unproven: {errors[0].detail}",
            )
        if all(o.outcome in _BLOCKED for o in obs):
            return Verdict.PASS, ""
        return Verdict.ERROR, f"unexpected observation {obs[0].outcome.value}"
    if exp.expect is Expect.NO_FORWARD:
        return _judge_dns_egress(exp, obs)
    if exp.expect is Expect.RESOLVE:
        errors = [o for o in obs if o.outcome is Outcome.ERROR]
        if errors:
            return Verdict.ERROR, f"probe could not run: {errors[0].detail}"
        got = [a for o in obs if o.outcome is Outcome.OK for a in o.addresses]
        if not got:
            why = (
                ""
                if attached or not network
                else f" because {exp.src} is not attached to {network}"
            )
            seen = "/".join(dict.fromkeys(o.outcome.value for o in obs))
            return Verdict.FAIL, f"{exp.targets[0]} does not resolve from {exp.src} ({seen}){why}"
        foreign = [a for a in dict.fromkeys(got) if a not in exp.addresses]
        if foreign:
            who = "; ".join(f"{a} is {_owner(state, a)}" for a in foreign)
            return (
                Verdict.FAIL,
                f"{exp.targets[0]} also answers with addresses that are not {exp.dst}'s: {who}",
            )
        missing = _missing(exp, obs)
        if missing:
            who = "; ".join(f"{a} ({_owner(state, a)})" for a in missing)
            return (
                Verdict.FAIL,
                f"{exp.targets[0]} answers without some of {exp.dst}'s addresses: {who}",
            )
        return Verdict.PASS, ""
    # NO_RESOLVE: no question asked (A, and AAAA where asked) may come back with an address
    leaked = list(dict.fromkeys(a for o in obs if o.outcome is Outcome.OK for a in o.addresses))
    if leaked:
        who = "; ".join(f"{a} is {_owner(state, a)}" for a in leaked)
        via = [n for a in leaked for n in _networks_of(state, a) if source.endpoint(n) is not None]
        src_tiers = contract.services[exp.src].tiers if exp.src in contract.services else ()
        tier_of = contract.network_tier()
        wrong = [n for n in dict.fromkeys(via) if tier_of.get(n) not in src_tiers]
        cause = "; ".join(
            f"{exp.src} is attached to {n}, which the contract does not give it" for n in wrong
        )
        return (
            Verdict.FAIL,
            f"{exp.targets[0]} resolves from {exp.src}: {who} ({cause or exp.context})",
        )
    unproven = [o for o in obs if o.outcome not in (Outcome.NXDOMAIN, Outcome.NODATA)]
    if not unproven:
        return Verdict.PASS, ""  # the resolver said so: NXDOMAIN, or NOERROR without an address
    if all(o.outcome in (Outcome.TIMEOUT, Outcome.SERVFAIL) for o in unproven):
        if control_ok:
            return Verdict.PASS, ""
        return (
            Verdict.ERROR,
            f"no DNS answer, and {exp.src}'s resolver did not answer its own name either",
        )
    o = unproven[0]
    return Verdict.ERROR, f"probe could not run: {o.detail or o.outcome.value}"


# Tools whose DNS outcome comes from the answer's rcode: NXDOMAIN and NODATA from them are an upstream's
# answer. (getent and python3 report SERVFAIL and NXDOMAIN alike as "not found".)
RCODE_TOOLS = frozenset({"netns", "nslookup"})
_UPSTREAM_ANSWERS = (Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA)
CVE_DNS = "CVE-2024-29018"


def _forwarded(obs: Sequence[Observation]) -> list[Observation]:
    """Answers that only an upstream resolver gives for an external name: records, NXDOMAIN, NODATA (Docker's
    DNS answers SERVFAIL itself for a name it does not forward: measured on 26.1; 20.10 forwards)."""
    return [
        o for o in obs if o.outcome in _UPSTREAM_ANSWERS and (o.addresses or o.tool in RCODE_TOOLS)
    ]


def _judge_dns_egress(exp: Expectation, obs: Sequence[Observation]) -> tuple[Verdict, str]:
    """An external name asked of Docker's DNS from a service whose tiers are all internal."""
    name = exp.targets[0]
    forwarded = _forwarded(obs)
    if forwarded:
        got = list(dict.fromkeys(a for o in forwarded for a in o.addresses))
        what = (
            f"{name} resolves from {exp.src} to {', '.join(got)}"
            if got
            else f"an upstream resolver answered {forwarded[0].outcome.value.upper()} for {name} asked from {exp.src}"
        )
        return Verdict.FAIL, (
            f"{what}: Docker's DNS forwards queries from internal-only services out of the "
            f"internal networks, a way out for data ({CVE_DNS}) [{exp.context}]"
        )
    errors = [o for o in obs if o.outcome is Outcome.ERROR]
    if errors:
        return Verdict.ERROR, f"probe could not run: {errors[0].detail}"
    vague = [o for o in obs if o.outcome in _UPSTREAM_ANSWERS]
    if vague:
        return Verdict.ERROR, (
            f"{vague[0].tool or 'the probe tool'} cannot tell NXDOMAIN from SERVFAIL, so whether "
            f"{name} was forwarded is unproven: use the netns executor or an image with nslookup"
        )
    if all(o.outcome is Outcome.SERVFAIL for o in obs):
        return Verdict.PASS, (
            "Docker's DNS answered SERVFAIL: the name did not resolve (it was not forwarded, "
            "or its upstream failed too)"
        )
    return Verdict.ERROR, (
        f"no DNS answer for {name}: whether it was forwarded is unproven (Docker 20.10 forwards "
        "and stays silent when its upstream does not answer)"
    )


def _missing(exp: Expectation, obs: Sequence[Observation]) -> list[str]:
    """What the answer left out: for each asked family (A: IPv4, AAAA: IPv6) the answer must be all the
    addresses that one network holds for the name (Docker answers from one shared network, with every
    container holding the name there). Empty when it is, or when nothing is known to compare with."""
    out: list[str] = []
    for o in obs:
        if o.tool == "getent":
            continue  # musl's `getent hosts` prints one address of several: it can show no foreign one, not all
        family = 6 if o.qtype == "AAAA" else 4
        have = set(o.addresses) if o.outcome is Outcome.OK else set()
        options = [w for w in ({a for a in g if family_of(a) == family} for g in exp.groups) if w]
        if not options and not exp.groups:
            options = [w for w in [{a for a in exp.addresses if family_of(a) == family}] if w]
        if options and not any(have == w for w in options):
            closest = min(options, key=lambda w: len(w - have))
            out += sorted(closest - have)
    return list(dict.fromkeys(out))


def _leak_cause(exp: Expectation, contract: Contract, network: str, src_attached: bool) -> str:
    """Why a path the contract forbids is open, from the snapshot: who is on a tier it should not be."""
    if not src_attached:
        return (
            f"although {exp.src} is not attached to {network} (check published ports and routing)"
        )
    tiers = {s: contract.services[s].tiers for s in (exp.src, exp.dst) if s in contract.services}
    intruders = [s for s in (exp.src, exp.dst) if s in tiers and exp.tier not in tiers[s]]
    if not intruders:
        return f"because {exp.src} is attached to {network}"
    return "because " + " and ".join(
        f"{s} is attached to {network}, which the contract does not give it" for s in intruders
    )


# -- across one source's batch ------------------------------------------------------------------

Observed = Mapping[str, Sequence[Observation]]  # expectation id -> its observations


def control_ok(exps: Sequence[Expectation], obs: Observed) -> bool:
    """The source's resolver answered its own name in this batch (so its silence on other names means
    "does not resolve", not "resolver down")."""
    for e in exps:
        if e.control:
            got = obs.get(e.id) or []
            return bool(got) and all(o.outcome is Outcome.OK and o.addresses for o in got)
    return False


def differs(e: Expectation, obs: Sequence[Observation], resolver_ok: bool) -> bool:
    """Whether the observation disagrees with the expectation (worth another, longer attempt)."""
    outcomes = {o.outcome for o in obs}
    if Outcome.ERROR in outcomes:
        return False  # the machinery failed; repeating it proves nothing
    if proven_leak(e, obs):
        return False  # a forbidden path seen open is evidence: another attempt could only hide it
    match e.expect:
        case Expect.CONNECT:
            return outcomes != {Outcome.OK}
        case Expect.BLOCKED:
            return False  # blocked as expected (a leak returned above)
        case Expect.RESOLVE:
            return any(
                o.outcome is not Outcome.OK or not set(o.addresses) <= e.addresses for o in obs
            )
        case Expect.NO_FORWARD:
            return (
                Outcome.TIMEOUT in outcomes
            )  # silence proves nothing yet: a longer window may get the answer
        case Expect.NO_RESOLVE:
            return any(o.outcome is Outcome.OK for o in obs) or (
                bool(outcomes & {Outcome.TIMEOUT, Outcome.SERVFAIL}) and not resolver_ok
            )


def to_retry(exps: Sequence[Expectation], obs: Observed) -> list[Expectation]:
    """Probes to repeat: those that disagree with the contract. When a path that must connect
    timed out in this batch, the batch may have been starved, so its "blocked" timeouts are no
    proof either: they are repeated too."""
    seen = [e for e in exps if e.id in obs]
    resolver_ok = control_ok(seen, obs)
    starved = any(
        e.expect is Expect.CONNECT and any(o.outcome is Outcome.TIMEOUT for o in obs[e.id])
        for e in seen
    )
    return [
        e
        for e in seen
        if differs(e, obs[e.id], resolver_ok)
        or (
            starved
            and e.expect is Expect.BLOCKED
            and not proven_leak(e, obs[e.id])
            and any(o.outcome is Outcome.TIMEOUT for o in obs[e.id])
        )
    ]


def proven_leak(e: Expectation, obs: Sequence[Observation]) -> bool:
    """A forbidden path seen open is evidence, even if a container died afterwards or a later attempt
    timed out. (A host answer under `host: report` is shown, not a leak.)"""
    if e.report_only:
        return False
    if e.expect is Expect.BLOCKED:
        return any(o.connected for o in obs)
    if e.expect is Expect.NO_RESOLVE:
        return any(o.outcome is Outcome.OK and o.addresses for o in obs)
    if e.expect is Expect.NO_FORWARD:
        return bool(_forwarded(obs))
    return False


def judge_source(
    plan: SourcePlan,
    obs: Observed,
    *,
    contract: Contract,
    state: State,
    problem: str = "",
    void: Collection[str] = (),
    attempts: Mapping[str, int] | None = None,
    duration: float = 0.0,
    executor: str = "",
) -> list[Result]:
    """Every result of one source. `problem`: no executor could run its probes (all ERROR).
    `void`: services whose container stopped or restarted during the check; `executor`: named in each."""
    exps = list(plan.expectations)
    if problem:
        return [
            Result(
                e.id,
                e.kind,
                pair(e.src, e.dst),
                Verdict.ERROR,
                e.expected,
                "not probed",
                problem,
                src=e.src,
                dst=e.dst,
                tier=e.tier,
                executor=executor,
            )
            for e in exps
        ]
    resolver_ok = control_ok(exps, obs)
    out = []
    for e in exps:
        seen = obs.get(e.id, ())
        r = evaluate(
            e,
            seen,
            source=plan.container,
            contract=contract,
            state=state,
            control_ok=resolver_ok,
            duration=duration,
            attempts=(attempts or {}).get(e.id, 1),
            executor=executor,
        )
        gone = [s for s in (e.src, e.dst) if s in void]
        if gone and not proven_leak(e, seen):
            r = r.with_verdict(
                Verdict.ERROR,
                f"{gone[0]} stopped or restarted during the check, "
                "so this observation proves nothing",
            )
        out.append(r)
    return _explain_ipv6_leaks(out)


IPV6_UNFILTERED = (
    "IPv4 is dropped on the same path and IPv6 connects: the engine does not filter IPv6 between "
    "networks (ip6tables off: the default before Docker 27, and still switchable off)"
)


def _explain_ipv6_leaks(results: list[Result]) -> list[Result]:
    """An IPv6 leak whose IPv4 twin is blocked says so, and names the likely cause."""
    by_id = {r.id: r for r in results}
    out = []
    for r in results:
        twin = by_id.get(r.id.removesuffix("/ipv6")) if r.id.endswith("/ipv6") else None
        if (
            r.verdict is Verdict.FAIL
            and r.kind is Kind.ISOLATION
            and twin is not None
            and twin.verdict is Verdict.PASS
        ):
            r = r.with_verdict(Verdict.FAIL, f"{r.reason}; {IPV6_UNFILTERED}")
        out.append(r)
    return out
