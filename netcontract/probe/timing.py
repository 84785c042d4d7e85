"""Every probe time limit, derived in one place from `--timeout` (and `--deadline`). Pure.

A dropped packet costs a whole window, so the window is the floor of a
check's wall time; a window that is too short turns a slow "reachable" into
"isolated". Nothing else in netcontract multiplies `--timeout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NETNS_FLOOR = 0.1  # seconds: no netns negative is ever judged on a shorter window
NETNS_MULTIPLE = (
    10  # a source's timeouts wait at least this many times its slowest answer of the same kind
)


@dataclass(frozen=True)
class Timing:
    """The probe windows and the overall budget of one check, from --timeout and --deadline."""

    timeout: float = 1.0  # --timeout: the first attempt's window, seconds
    deadline: float | None = None  # --deadline: all probing, retries included

    def attempt(self, n: int) -> float:
        """The window of attempt `n` (0 is the first): doubled on each retry."""
        return self.timeout * float(2**n)

    @property
    def budget(self) -> float:
        """Seconds for all probing, retries included; a retry that would not fit is not started."""
        return self.deadline if self.deadline is not None else max(30.0, self.timeout * 20)

    @staticmethod
    def sidecar_wait(window: float) -> float:
        """How long to wait for a sidecar batch with `window`: start-up of a container included."""
        return window * 3 + 30

    @property
    def api_timeout(self) -> float:
        """The Docker API client's read timeout: an exec batch must finish within one request."""
        return max(30.0, self.timeout * 4 + 10)

    @staticmethod
    def whole_seconds(window: float) -> int:
        """For tools that count whole seconds (busybox nc -w, ping -W): never below 1."""
        return max(1, math.ceil(window))

    # -- the in-namespace prober ------------------------------------------------------------------
    # Its answers come from the kernel and Docker's DNS in well under a millisecond on an idle host,
    # so its first window is short; the window that negatives are finally judged on is calibrated
    # per source from that source's own answered probes in the same run.

    @property
    def netns_first(self) -> float:
        """The first netns window: the floor (an answered probe ends long before it)."""
        return NETNS_FLOOR

    def netns_window(self, slowest_answer: float | None) -> float:
        """The window a netns source's negatives must have had, from its slowest answered probe (seconds):
        NETNS_MULTIPLE times that, never below the floor, never above the first retry's window."""
        wanted = NETNS_MULTIPLE * (slowest_answer or 0.0)
        return min(max(NETNS_FLOOR, wanted), self.netns_cap)

    @property
    def netns_cap(self) -> float:
        """The longest window a netns negative is given for calibration: the first retry's, never below the floor."""
        return max(NETNS_FLOOR, self.attempt(1))

    @property
    def netns_unsampled(self) -> float:
        """The window for a kind of path that nothing answered on in this run: --timeout, never below the floor."""
        return max(NETNS_FLOOR, self.timeout)
