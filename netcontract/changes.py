"""What an engine event can change, and what did change between two checks. Pure.

`watch` follows the engine's event stream. For each burst of events it asks `scope` which services
the events touch; the structural rules are always evaluated again (they read one snapshot and cost
milliseconds), the probes only from and to those services (`probe.plan.narrow_plan`), unless an event
changes a tier network itself, which re-checks everything. `merge` puts the partial report together
with the results it did not repeat, and `diff` says which verdicts changed.

Events are the engine's own records (`GET /events`): their names and labels are not trusted for
anything but choosing what to re-check; every verdict still comes from a fresh snapshot and probes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from netcontract.results import Report, Result, Verdict
from netcontract.state import PROJECT_LABEL, SERVICE_LABEL, State

if TYPE_CHECKING:  # annotations only: `--help` and `diff` load no pydantic
    from netcontract.contract import Contract

# The events that can change a verdict. A container's health is `health_status: healthy` and so on.
WATCHED: Mapping[str, frozenset[str]] = {
    "network": frozenset({"connect", "disconnect", "create", "destroy"}),
    "container": frozenset({"start", "die", "restart", "rename", "health_status", "destroy"}),
}


@dataclass(frozen=True)
class Event:
    """One engine event that `watch` acts on: its type, action, the object's id and attributes."""

    type: str
    action: str
    actor: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    time: float = 0.0  # seconds since the epoch, from the engine's timeNano

    @classmethod
    def from_api(cls, raw: Any) -> Event | None:
        """The event in one decoded `/events` object, or None when it is not one `watch` acts on."""
        if not isinstance(raw, dict):
            return None
        kind, action = str(raw.get("Type") or ""), str(raw.get("Action") or "")
        verb = action.split(":", 1)[0]
        if verb not in WATCHED.get(kind, ()):
            return None
        actor: dict[str, Any] = raw["Actor"] if isinstance(raw.get("Actor"), dict) else {}
        attrs: dict[str, Any] = (
            actor["Attributes"] if isinstance(actor.get("Attributes"), dict) else {}
        )
        nano = raw.get("timeNano")
        when = nano / 1e9 if isinstance(nano, int | float) else float(raw.get("time") or 0)
        return cls(
            kind,
            action,
            str(actor.get("ID") or ""),
            {str(k): str(v) for k, v in attrs.items() if isinstance(v, str | int | float)},
            when,
        )

    @property
    def verb(self) -> str:
        """The action without its detail (`health_status: healthy` -> `health_status`)."""
        return self.action.split(":", 1)[0]

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """The event in a few words, for a verdict change line: `network connect: web to app_back`."""
        names = names or {}
        if self.type == "network":
            net = self.attributes.get("name") or self.actor[:12]
            if self.verb in ("connect", "disconnect"):
                cid = self.attributes.get("container", "")
                who = names.get(cid) or cid[:12]
                return (
                    f"network {self.verb}: {who} {'to' if self.verb == 'connect' else 'from'} {net}"
                )
            return f"network {self.verb}: {net}"
        name = self.attributes.get("name") or names.get(self.actor) or self.actor[:12]
        return f"container {self.action}: {name}"


@dataclass(frozen=True)
class Scope:
    """What a burst of events calls for: nothing, the structural rules and some services' probes, or all."""

    relevant: bool = False  # anything of this stack was touched (else no re-check at all)
    everything: bool = False  # a tier network itself changed: a full check
    services: frozenset[str] = frozenset()  # contract services whose probes run again


def scope(
    events: Iterable[Event], contract: Contract, project: str, before: State, after: State
) -> Scope:
    """Which services `events` touch, reading each container's service from either snapshot (the one
    before the events knows what was removed, the one after knows what was created)."""
    tier_networks = {t.network for t in contract.tiers.values()}
    service_of: dict[str, str] = {}
    ours: set[str] = (
        set()
    )  # containers either snapshot holds: project members and tier-network members
    for state in (before, after):
        for c in state.containers:
            ours.add(c.id)
            if c.service in contract.services:
                service_of[c.id] = c.service
    relevant, everything, services = False, False, set()
    for e in events:
        if e.type == "network":
            net = e.attributes.get("name", "")
            if e.verb in ("create", "destroy"):
                if net in tier_networks:
                    relevant = everything = True
                continue
            cid = e.attributes.get("container", "")
            if net in tier_networks or cid in ours:
                relevant = True
                if cid in service_of:
                    services.add(service_of[cid])
            continue
        labels = e.attributes
        service = service_of.get(e.actor)
        if (
            service is None
            and labels.get(PROJECT_LABEL) == project
            and labels.get(SERVICE_LABEL) in contract.services
        ):
            service = labels[SERVICE_LABEL]
        if service is not None:
            relevant = True
            services.add(service)
        elif e.actor in ours or labels.get(PROJECT_LABEL) == project:
            relevant = True
    return Scope(relevant, everything, frozenset(services))


def touches(result: Result, services: Collection[str]) -> bool:
    """Whether a result is about one of `services`: from it, to it, or about it."""
    return result.src in services or result.dst in services or result.service in services


def merge(
    previous: Report,
    partial: Report,
    services: Collection[str] | None,
    previous_structural: Collection[str],
) -> Report:
    """The whole picture after a partial re-check: `partial` (every structural result, and the probes from and
    to `services`) plus the previous probe results about other services. With `services` None the partial
    report was a full check and is the whole picture. `previous_structural`: the ids of the structural results
    in `previous` (re-evaluated in `partial`, so the old ones are dropped even where they vanished)."""
    if services is None:
        return partial
    fresh = {r.id for r in partial.results}
    kept = tuple(
        r
        for r in previous.results
        if r.id not in fresh and r.id not in previous_structural and not touches(r, services)
    )
    return replace(partial, results=partial.results + kept)


@dataclass(frozen=True)
class Change:
    """A check whose verdict changed: `before` None for a new check, `after` None for one that is gone."""

    id: str
    before: Verdict | None
    after: Verdict | None
    result: Result | None  # the new result (None when the check is gone)

    def line(self, cause: str = "") -> str:
        """`PASS->FAIL isolation:web->db:5432@back: <why> [network connect: web to app_back]`."""
        was = self.before.value if self.before else "NEW"
        now = self.after.value if self.after else "GONE"
        text = f"{was}->{now} {self.id}"
        if self.result is not None and self.after in (Verdict.FAIL, Verdict.ERROR):
            text += f": {self.result.reason or self.result.actual}"
        return text + (f" [{cause}]" if cause else "")


def diff(before: Report | None, after: Report) -> list[Change]:
    """Every check whose verdict differs between the two reports, in the order of `after`, then the gone ones.
    Against no report (the first check), every check that did not pass is a change."""
    old = {r.id: r.verdict for r in before.results} if before else {}
    out = []
    seen = set()
    for r in after.results:
        seen.add(r.id)
        was = old.get(r.id)
        if before is None:
            if r.verdict in (Verdict.FAIL, Verdict.ERROR):
                out.append(Change(r.id, None, r.verdict, r))
        elif was != r.verdict:
            out.append(Change(r.id, was, r.verdict, r))
    out += [Change(rid, verdict, None, None) for rid, verdict in old.items() if rid not in seen]
    return out
