"""What a probe asks and what it saw: the values every executor produces and the judge reads. Pure."""

from __future__ import annotations

import enum
import statistics
from collections.abc import Sequence
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


# How a round trip was measured (netns only: exec and sidecar run the container's tools, whose timing
# includes process start-up, so they report none).
TCP_RTT = "tcp_info"  # the kernel's handshake RTT sample (TCP_INFO tcpi_rtt) of the connect
RX_TIMESTAMP = (
    "so_timestampns"  # send time to the kernel's receive timestamp (SO_TIMESTAMPNS) of the answer
)
USERSPACE = "select"  # send time to the selector's wake-up: no kernel figure was available (includes scheduling)
LATENCY_SOURCES = (TCP_RTT, RX_TIMESTAMP, USERSPACE)


@dataclass(frozen=True)
class Observation:
    """What an executor saw for one probe: the outcome, resolved addresses, and the tool and output behind them."""

    outcome: Outcome
    addresses: tuple[str, ...] = ()
    detail: str = ""
    output: str = ""
    tool: str = ""
    qtype: str = ""  # DNS: the record type this answers ("A" or "AAAA")
    latency_ms: float | None = (
        None  # netns: the answer's round trip, measured as `latency_source` says
    )
    latency_source: str = (
        ""  # one of LATENCY_SOURCES; empty when there is no figure (exec, sidecar, no answer)
    )

    @property
    def connected(self) -> bool:
        """The target answered at the network level (an open or a refusing port)."""
        return self.outcome in (Outcome.OK, Outcome.REFUSED)


def path_latency(obs: Sequence[Observation]) -> tuple[float | None, str]:
    """An expectation's round trip from its observations that got an answer: their median in ms, and how
    it was measured (`+`-joined when the observations differ); (None, "") when none has a figure."""
    timed = [
        o
        for o in obs
        if o.latency_ms is not None and o.outcome not in (Outcome.ERROR, Outcome.TIMEOUT)
    ]
    if not timed:
        return None, ""
    values = [o.latency_ms for o in timed if o.latency_ms is not None]
    how = "+".join(sorted({o.latency_source or USERSPACE for o in timed}))
    return round(statistics.median(values), 4), how
