"""Verdicts, results and the report that every output format reads.

The exit code is a property of the report, never of a reporter.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field, replace

from netcontract.measures import Comparison, Startup


class Verdict(enum.StrEnum):
    """A result's outcome. ERROR: the check could not be made, never read as a pass; SKIP: it did not apply."""

    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"  # the check could not be made; never counted as a pass or as isolation
    SKIP = "SKIP"


class ExitCode(enum.IntEnum):
    """The documented process exit codes; a report's own code is OK, VIOLATED or NOT_EVALUATED."""

    OK = 0  # the contract holds
    VIOLATED = 1  # at least one FAIL
    USAGE = 2  # click's own usage errors
    NOT_EVALUATED = 3  # daemon unreachable, or ERRORs and no FAIL
    INVALID_CONTRACT = 4
    INTERNAL = 70  # a bug in netcontract (EX_SOFTWARE); never 1, which means "contract violated"
    INTERRUPTED = 130  # Ctrl-C or SIGTERM; probe containers are removed first


class Kind(enum.StrEnum):
    """What a result checks. The values are the report's `kind` strings and the first part of every id."""

    PROJECT = "project"  # lint: the compose project name
    NETWORK = "network"  # a tier's network exists with the declared driver and internal flag
    RUNNING = "running"  # a service has running (and healthy) containers
    NETWORKS = "networks"  # a service's containers are on exactly its tiers' networks
    ALIAS = "alias"  # a declared alias exists on its tier
    FOREIGN = "foreign"  # only contract services on an internal tier
    EXPOSURE = "exposure"  # no published port on an internal tier's member
    ALIAS_UNIQUE = "alias-unique"  # one holder per alias on a network
    EGRESS = (
        "egress"  # a service whose tiers are all internal has no way out (structural and probed)
    )
    PROBES = "probes"  # probes from a source could not run at all
    DNS = "dns"  # a name resolves to exactly the target's addresses, or not at all
    REACH = "reach"  # a path the contract allows connects
    ISOLATION = "isolation"  # a path the contract forbids is blocked
    HOST = "host"  # the Docker host seen from a service whose tiers are all internal
    UNDECLARED = "undeclared"  # a compose service of the project that the contract does not name
    NAMESPACE = "namespace"  # a container sharing a contract service's network namespace
    HOST_NETWORK = (
        "host-network"  # a container on the host's network (it reaches every container address)
    )
    HOST_REACH = "host-reach"  # probed from the host's namespace to an internal tier's member


def result_id(kind: Kind, subject: str, *, item: str = "", tier: str = "") -> str:
    """The one way to build a result id: `kind:subject[:item][@tier]`, stable across runs.

    network:data_tier · alias:db@data_tier:database · reach:backend->db:5432@data_tier
    """
    head = f"{kind.value}:{subject}" if subject else kind.value
    return head + (f":{item}" if item else "") + (f"@{tier}" if tier else "")


def pair(src: str, dst: str) -> str:
    """A directed pair as ids and reports spell it: `src->dst`."""
    return f"{src}->{dst}"


@dataclass(frozen=True)
class Result:
    """One check's outcome. `id` is stable across runs: reports and CI history key on it."""

    id: str
    kind: Kind
    subject: str
    verdict: Verdict
    expected: str
    actual: str
    reason: str = ""
    output: str = ""  # raw probe output, for -v and JUnit system-out
    duration: float = 0.0
    attempts: int = 0  # probe attempts; 0 for structural checks
    src: str = ""  # probe source service (dns, reach, isolation, egress)
    dst: str = ""  # probe target service, or the name/canary probed
    tier: str = ""  # tier key the probe or check is about, when there is one
    service: str = ""  # the contract service a structural result is about
    containers: tuple[str, ...] = ()  # names of the containers a violation points at
    location: str = ""  # where a static result's service is declared (compose file:line)
    executor: str = ""  # probes: netns, exec or sidecar (whose code made the observation)
    latency_ms: float | None = (
        None  # netns probes that got an answer: the round trip (median of its probes)
    )
    latency_source: str = (
        ""  # how latency_ms was measured (probe.observation.LATENCY_SOURCES); "" without one
    )

    def __post_init__(self) -> None:
        if not isinstance(
            self.kind, Kind
        ):  # read back from a JSON report, or written as a plain string
            object.__setattr__(self, "kind", Kind(self.kind))

    def with_verdict(self, verdict: Verdict, reason: str) -> Result:
        """A copy of this result with another verdict and reason."""
        return replace(self, verdict=verdict, reason=reason)


@dataclass(frozen=True)
class Summary:
    """A report's results counted per verdict."""

    passed: int
    failed: int
    errors: int
    skipped: int

    @property
    def total(self) -> int:
        """Every result, whatever its verdict."""
        return self.passed + self.failed + self.errors + self.skipped


@dataclass(frozen=True)
class Aborted:
    """Why a run made no verdict at all (the engine could not be asked, the contract is invalid, ...):
    the error's exit code, its class name and the lines it printed on stderr."""

    exit_code: ExitCode
    error: str  # the error's class name: EngineError, ContractError, NotReadyError, ...
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TierView:
    """A tier as a report draws it."""

    key: str
    network: str
    internal: bool = False


@dataclass(frozen=True)
class ServiceView:
    """A contract service as a report draws it: its tiers (home first in drawings) and its aliases."""

    name: str
    tiers: tuple[str, ...]
    home: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topology:
    """The contract's shape, for formats that draw it from the report alone (the HTML page's tier graph):
    tiers and services in contract order, the allowed tier flows and the `policy.isolate` pairs.
    Built by `Contract.topology()`; not part of the JSON report."""

    tiers: tuple[TierView, ...]
    services: tuple[ServiceView, ...]
    allowed: frozenset[tuple[str, str]] = frozenset()
    isolated: tuple[tuple[str, str], ...] = ()
    project: str | None = None


@dataclass(frozen=True)
class Report:
    """The results of one check or lint run and what it ran against: the one thing every format renders."""

    contract: str
    results: tuple[Result, ...]
    project: str | None = None
    source: str = "live"  # "live", or the compose files a static state was read from
    command: str = "check"  # check or lint
    duration: float = 0.0
    notes: tuple[str, ...] = field(default=())
    engine: str = ""  # live: the engine and API version the check ran against
    aborted: Aborted | None = (
        None  # set when the run stopped before any verdict; results are then empty
    )
    host: str = ""  # live: the machine that ran the check (where netns round trips are measured)
    startup: tuple[
        Startup, ...
    ] = ()  # live: each service container's start-up, from the engine's records
    comparison: Comparison | None = (
        None  # check --baseline, diff: this report against an earlier one
    )
    topology: Topology | None = (
        None  # the contract's tiers, services and flows, when the run had a contract
    )

    @property
    def summary(self) -> Summary:
        """The results counted per verdict."""
        n = Counter(r.verdict for r in self.results)
        return Summary(n[Verdict.PASS], n[Verdict.FAIL], n[Verdict.ERROR], n[Verdict.SKIP])

    @property
    def exit_code(self) -> ExitCode:
        """VIOLATED on any FAIL, else NOT_EVALUATED on any ERROR, else OK."""
        if self.aborted is not None:
            return self.aborted.exit_code
        s = self.summary
        if s.failed:
            return ExitCode.VIOLATED
        if s.errors:
            return ExitCode.NOT_EVALUATED
        return ExitCode.OK

    def violations(self) -> list[Result]:
        """The FAIL and ERROR results, in report order."""
        return [r for r in self.results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
