"""Every probe time limit, derived in one place from `--timeout` (and `--deadline`). Pure.

A dropped packet costs a whole window, so the window is the floor of a
check's wall time; a window that is too short turns a slow "reachable" into
"isolated". Nothing else in netcontract multiplies `--timeout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
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
