"""What a probe asks and what it saw: the values every executor produces and the judge reads. Pure."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    """What one probe observed. REFUSED is reachable, never isolation; ERROR means the probe could not be made."""

    OK = "ok"  # connected / answered / resolved
    REFUSED = "refused"  # reachable, nothing listening: NOT isolation
    TIMEOUT = "timeout"  # dropped, or no DNS answer within the timeout
    UNREACHABLE = "unreachable"  # no route to the address
    NXDOMAIN = "nxdomain"  # the resolver says the name does not exist
    NODATA = "nodata"  # the resolver answered NOERROR with no record of the asked type
    SERVFAIL = "servfail"  # the resolver answered that it could not resolve the name
    ERROR = "error"  # the probe could not be made


class ProbeKind(enum.StrEnum):
    """What a probe sends: a DNS lookup, a TCP connect or an ICMP echo."""

    DNS = "dns"
    TCP = "tcp"
    ICMP = "icmp"


@dataclass(frozen=True)
class Probe:
    """One probe in a source's batch: what to send to which target (and port or record type)."""

    key: str  # unique in its batch: p0, p1, ...
    kind: ProbeKind
    target: str  # a DNS name for dns; an address (or a DNS name for canaries) otherwise
    port: int | None = None
    qtype: str = "A"  # DNS only: "A" or "AAAA"


@dataclass(frozen=True)
class Observation:
    """What an executor saw for one probe: the outcome, resolved addresses, and the tool and output behind them."""

    outcome: Outcome
    addresses: tuple[str, ...] = ()
    detail: str = ""
    output: str = ""
    tool: str = ""
    qtype: str = ""  # DNS: the record type this answers ("A" or "AAAA")

    @property
    def connected(self) -> bool:
        """The target answered at the network level (an open or a refusing port)."""
        return self.outcome in (Outcome.OK, Outcome.REFUSED)
