"""Structural rules about actors: every container that can reach a tier, endpoint or not. Pure.

An actor is a container that can reach a tier's members: one attached to the tier's network (an
endpoint), one that shares the network namespace of such a container (network_mode
`container:<id>`, compose's `service:<name>`), and one on the host's network (it reaches every
container address from the host's namespace, internal networks included). The rules, one id each:

- `undeclared:<service>`: a compose service of the project that the contract does not name.
- `namespace:<owner>:<actor>`: a container in the namespace of a contract service's container;
  declared (`network_mode: service:<owner>`, or the owner's `shared_by`) it passes, else it fails.
- `host-network:<actor>`: a container on the host's network; a project service must declare it
  (`network_mode: host`), any other is reported (`policy.host_network: deny` fails it).
- `foreign:<tier>[:<actor>]`: a container on a tier's network that is no contract service.

`structural.structural_results` runs them, for `check` and `lint` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from netcontract.contract import Contract, matches
from netcontract.results import Kind, Result, Verdict, result_id
from netcontract.state import Container, State

_GONE = (
    "exited",
    "created",
    "dead",
    "removing",
)  # a container in these states holds no network namespace


def actor_results(contract: Contract, state: State) -> list[Result]:
    """Every actor rule's results: undeclared project services, namespace sharers, host networking, foreign
    containers on each tier (docs/contract.md, "Actors")."""
    out: list[Result] = []
    out += _undeclared(contract, state)
    out += _namespaces(contract, state)
    out += _host_network(contract, state)
    out += foreign_results(contract, state)
    return out


def _live(c: Container, state: State) -> bool:
    """Whether `c` can reach anything now (a compose file's containers always count)."""
    return not state.live or c.status not in _GONE


def _ours(c: Container, state: State) -> bool:
    """A container of the project (of any project, for a state without one: never a live check's)."""
    return (state.project is None or c.project == state.project) and bool(c.service)


def actor_name(c: Container, state: State) -> str:
    """How an id names an actor: the compose service for the project's containers, else the container name."""
    return c.service or c.name if _ours(c, state) else c.name


def _join(items: list[str]) -> str:
    return ", ".join(sorted(dict.fromkeys(items))) if items else "(none)"


def _contract_owner(contract: Contract, state: State, c: Container) -> Container | None:
    """The container of a contract service whose namespace `c` is in, when `c` shares one."""
    if not c.shared_ref:
        return None
    root = state.namespace_root(c)
    if root is c or not _ours(root, state) or root.service not in contract.services or root.oneoff:
        return None
    return root


def _in_host_namespace(c: Container, state: State) -> bool:
    return state.namespace_root(c).host_network


def _reach_of(contract: Contract, state: State, c: Container) -> str:
    """What a container reaches, in words, for a reason."""
    if _in_host_namespace(c, state):
        return "uses the host's network"
    owner = state.owner_of(c)
    if c.shared_ref:
        return f"shares the network namespace of {owner.label if owner else c.shared_ref}"
    tier_of = contract.network_tier()
    nets = [f"{n} (tier {tier_of[n]})" if n in tier_of else n for n in c.networks]
    return f"is on {', '.join(nets)}" if nets else "has no network"


def _undeclared(contract: Contract, state: State) -> Iterator[Result]:
    """Every running container of the project belongs to a contract service, or to one it ignores. Sharers of a
    contract service and host-network containers have rules of their own (which name the owner, or the host)."""
    by_service: dict[str, list[Container]] = {}
    if state.project is None:
        return
    for c in state.containers:
        if _ours(c, state) and _live(c, state) and c.service not in contract.services:
            by_service.setdefault(str(c.service), []).append(c)
    for service, containers in sorted(by_service.items()):
        if service in contract.ignore:
            continue
        mine = [
            c
            for c in containers
            if _contract_owner(contract, state, c) is None and not _in_host_namespace(c, state)
        ]
        if not mine:
            continue
        reason = "; ".join(
            f"{c.label}{' (docker compose run)' if c.oneoff else ''} {_reach_of(contract, state, c)}"
            for c in mine
        )
        yield Result(
            result_id(Kind.UNDECLARED, service),
            Kind.UNDECLARED,
            service,
            Verdict.FAIL,
            "every service of the project in the contract (or in `ignore`)",
            _join([c.name for c in mine]),
            f"{reason}: service {service} is not in the contract; describe it, or list it in `ignore`",
            service=service,
            containers=tuple(c.name for c in mine),
        )


def _namespaces(contract: Contract, state: State) -> Iterator[Result]:
    """A container in a contract service's network namespace is there by declaration; a declared sharer shares
    exactly its owner's namespace and has no endpoints of its own."""
    found: dict[
        tuple[str, str], list[tuple[Container, str]]
    ] = {}  # (owner, actor) -> (container, problem)
    for c in state.containers:
        if not _live(c, state):
            continue
        root = _contract_owner(contract, state, c)
        if root is None:
            continue
        owner = str(root.service)
        owner_svc = contract.services[owner]
        actor = actor_name(c, state)
        declared = (
            _ours(c, state)
            and c.service in contract.services
            and contract.services[str(c.service)].owner == owner
        ) or any(matches(sel, c.name, c.project, c.service) for sel in owner_svc.shared_by)
        problem = (
            ""
            if declared
            else (
                f"{c.label} shares the network namespace of {root.label}, so it is on {owner}'s tiers "
                f"({', '.join(contract.effective_tiers(owner))}), and the contract does not declare it "
                f"(`network_mode: service:{owner}` on its service, or `shared_by` on {owner})"
            )
        )
        if declared and c.endpoints:
            problem = f"{c.label} has endpoints of its own ({', '.join(c.networks)}) besides {owner}'s namespace"
        found.setdefault((owner, actor), []).append((c, problem))
    for name, svc in contract.services.items():
        if not svc.owner:
            continue
        for c in state.service_containers(name):
            root = state.namespace_root(c)
            if not _live(c, state) or (
                root is not c
                and _contract_owner(contract, state, c) is not None
                and root.service == svc.owner
            ):
                continue
            now = (
                f"shares the namespace of {root.label}"
                if root is not c
                else (f"has its own network ({c.network_mode or 'default'})")
            )
            found.setdefault((svc.owner, name), []).append(
                (
                    c,
                    f"{c.label} {now}, not {svc.owner}'s (the contract says network_mode: service:{svc.owner})",
                )
            )
    for (owner, actor), items in sorted(found.items()):
        problems = [p for _, p in items if p]
        containers = tuple(c.name for c, _ in items)
        yield Result(
            result_id(Kind.NAMESPACE, owner, item=actor),
            Kind.NAMESPACE,
            f"{owner}:{actor}",
            Verdict.FAIL if problems else Verdict.PASS,
            f"only declared containers in {owner}'s network namespace",
            f"{_join(list(containers))} in {owner}'s namespace",
            "; ".join(problems),
            service=owner,
            containers=containers,
        )


def internal_tiers(contract: Contract) -> list[str]:
    """The contract's internal tiers, in contract order."""
    return [k for k, t in contract.tiers.items() if t.internal]


def _host_network(contract: Contract, state: State) -> Iterator[Result]:
    """The host's network reaches every container address, internal tiers included: a project service declares
    it (`network_mode: host`); any other container on it is reported, or fails under policy.host_network: deny."""
    internal = internal_tiers(contract)
    reach = (
        f"from the host's namespace it reaches every member of internal tier{'s' if len(internal) > 1 else ''} "
        f"{', '.join(internal)} (internal stops forwarding, not the host)"
        if internal
        else "from the host's namespace it reaches every tier's container addresses"
    )
    found: dict[str, list[tuple[Container, Verdict, str]]] = {}
    for c in state.containers:
        if not _live(c, state) or not _in_host_namespace(c, state):
            continue
        actor = actor_name(c, state)
        svc = contract.services.get(str(c.service)) if _ours(c, state) else None
        if svc is not None and svc.network_mode == "host":
            found.setdefault(actor, []).append(
                (c, Verdict.PASS, f"declared (network_mode: host); {reach}")
            )
        elif svc is not None or (_ours(c, state) and c.service not in contract.ignore):
            found.setdefault(actor, []).append(
                (
                    c,
                    Verdict.FAIL,
                    f"{c.label} uses the host's network, which the "
                    "contract does not declare (`network_mode: host`); " + reach,
                )
            )
        elif contract.policy.host_network == "deny":
            found.setdefault(actor, []).append(
                (
                    c,
                    Verdict.FAIL,
                    f"{c.label} uses the host's network: {reach} [policy.host_network: deny]",
                )
            )
        else:
            found.setdefault(actor, []).append(
                (
                    c,
                    Verdict.PASS,
                    f"reported: {c.label} uses the host's network: "
                    f"{reach}; `policy.host_network: deny` makes it a failure",
                )
            )
    for name, svc in contract.services.items():
        if svc.network_mode != "host":
            continue
        for c in state.service_containers(name):
            if _live(c, state) and not _in_host_namespace(c, state):
                found.setdefault(name, []).append(
                    (
                        c,
                        Verdict.FAIL,
                        f"{c.label} is not on the host's network (network_mode "
                        f"{c.network_mode or 'default'}); the contract says network_mode: host",
                    )
                )
    for actor, items in sorted(found.items()):
        failed = [why for _, v, why in items if v is Verdict.FAIL]
        verdict = Verdict.FAIL if failed else Verdict.PASS
        reason = "; ".join(failed) if failed else items[0][2]
        yield Result(
            result_id(Kind.HOST_NETWORK, actor),
            Kind.HOST_NETWORK,
            actor,
            verdict,
            "declared, or reported"
            if contract.policy.host_network == "report"
            else "declared (policy.host_network: deny)",
            _join([f"{c.name}: network_mode {c.network_mode or 'default'}" for c, _, _ in items]),
            reason,
            service=actor if actor in contract.services else "",
            containers=tuple(c.name for c, _, _ in items),
        )


def foreign_mode(contract: Contract, state: State, tier_key: str) -> str:
    """deny or report: explicit, else deny on internal tiers and on networks the project created."""
    tier = contract.tiers[tier_key]
    if tier.foreign is not None:
        return tier.foreign
    net = state.network(tier.network)
    owned = net is not None and bool(net.project) and net.project == state.project
    return "deny" if tier.internal or owned else "report"


def _member(contract: Contract, state: State, c: Container, tier_key: str) -> bool:
    """A contract service's container on this tier (a `docker compose run` one only on its service's tiers)."""
    if not _ours(c, state) or c.service not in contract.services:
        return False
    return not c.oneoff or tier_key in contract.effective_tiers(str(c.service))


def foreign_results(contract: Contract, state: State) -> Iterator[Result]:
    """Containers on a tier's network that are no contract service: `foreign:<tier>` passes when there is none,
    each one is `foreign:<tier>:<actor>` (a sharer of one counts as on its owner's tiers)."""
    for key, tier in contract.tiers.items():
        net = state.network(tier.network)
        rid = result_id(Kind.FOREIGN, key)
        if net is None:
            if tier.internal or tier.foreign is not None:
                yield Result(
                    rid,
                    Kind.FOREIGN,
                    key,
                    Verdict.SKIP,
                    f"only {_join(contract.members(key))}",
                    "network missing",
                    f"see network:{key}",
                    tier=key,
                )
            continue
        mode = foreign_mode(contract, state, key)
        actors: dict[str, list[Container]] = {}
        for c in state.attached(tier.network):
            for a in (c, *state.sharers(c)):
                if (
                    not _live(a, state)
                    or _member(contract, state, a, key)
                    or (a is not c and _contract_owner(contract, state, a) is not None)
                ):
                    continue
                actors.setdefault(actor_name(a, state), []).append(a)
        members = _join(contract.members(key))
        if not actors:
            yield Result(
                rid,
                Kind.FOREIGN,
                key,
                Verdict.PASS,
                f"only {members}",
                "only contract services",
                tier=key,
            )
            continue
        where = ("internal tier" if tier.internal else "tier") + f" {key} ({tier.network})"
        owner = (
            "created by the project"
            if net.project and net.project == state.project
            else "not created by the project"
        )
        for actor, cs in sorted(actors.items()):
            admitted = [
                c for c in cs if any(matches(s, c.name, c.project, c.service) for s in tier.admit)
            ]
            how = "; ".join(f"{c.label} {_reach_of(contract, state, c)}" for c in cs)
            if len(admitted) == len(cs):
                verdict, reason = Verdict.PASS, f"admitted by tiers.{key}.admit: {how}"
            elif mode == "report":
                verdict, reason = (
                    Verdict.PASS,
                    (
                        f"reported: {how}; it reaches every member of {where}, a network "
                        f"{owner} (`foreign: deny` on the tier fails it)"
                    ),
                )
            else:
                verdict, reason = (
                    Verdict.FAIL,
                    (
                        f"{how}: on {where}, a network {owner}, it reaches every member, "
                        f"and it is not a service of the contract (nor in tiers.{key}.admit)"
                    ),
                )
            yield Result(
                result_id(Kind.FOREIGN, key, item=actor),
                Kind.FOREIGN,
                key,
                verdict,
                f"only {members}",
                _join([c.label for c in cs]),
                reason,
                tier=key,
                containers=tuple(c.name for c in cs),
            )


def name_sharers(results: list[Result], state: State) -> tuple[list[Result], list[str]]:
    """Probe results from a container whose namespace others share name those sharers too: the same sockets,
    the same reach. (A sharer is never probed itself: it is the same namespace.) Returns the results and a note
    per shared namespace."""
    by_name: dict[str, list[Container]] = {}
    for c in state.containers:
        if c.running and c.shared_ref:
            root = state.namespace_root(c)
            if root is not c:
                by_name.setdefault(root.name, []).append(c)
    if not by_name:
        return results, []
    out, counts = [], dict.fromkeys(by_name, 0)
    for r in results:
        extra = [c for name in r.containers if r.attempts for c in by_name.get(name, ())]
        if extra:
            counts[r.containers[0]] = counts.get(r.containers[0], 0) + 1
            also = ", ".join(c.label for c in extra)
            r = replace(
                r,
                containers=(*r.containers, *(c.name for c in extra)),
                reason=f"{r.reason} (also the reach of {also}: same network namespace)"
                if r.reason
                else "",
            )
        out.append(r)
    notes = [
        f"{', '.join(c.label for c in sharers)} share{'s' if len(sharers) == 1 else ''} the network namespace of "
        f"{owner}: the {counts[owner]} probe results from {owner} are {'its' if len(sharers) == 1 else 'their'} "
        "reach as well (named in each result's containers)"
        for owner, sharers in by_name.items()
        if counts.get(owner)
    ]
    return out, notes
