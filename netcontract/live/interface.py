"""What the live path needs from a Docker engine: the Protocol that the runner and checker use.

`live.docker.engine.Engine` implements it (reads through the standard-library client, exec and
sidecars through the Docker SDK), `swarm.live.SwarmEngine` for a swarm's manager and nodes; the unit
tests implement it with canned answers (tests/unit/fake_engine.py), so retries, voids,
fallbacks and exit-status rules are tested without a daemon.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from netcontract.state import State


class LiveEngine(Protocol):
    """What the checker and the runner need from an engine.

    `Engine` and `SwarmEngine` implement it; the unit tests fake it.
    """

    def snapshot(self, project: str | None, networks: Iterable[str]) -> State:
        """The tier networks, the project's containers and every container on a tier network."""
        ...

    def exec(self, container_id: str, argv: list[str]) -> tuple[int | None, str]:
        """Run argv in the container: (exit code, stdout+stderr). EngineError if it cannot start."""
        ...

    def image_problem(self, image: str, pull: bool) -> str | None:
        """None when the probe image is usable, else why not."""
        ...

    def sidecar(
        self,
        source_id: str,
        image: str,
        argv: list[str],
        run_id: str,
        timeout: float,
        cancelled: threading.Event | None = None,
    ) -> tuple[int | None, str]:
        """Run argv in a labelled container sharing the source's network namespace; always removed."""
        ...

    def changed(self, started: Mapping[str, str]) -> set[str]:
        """Ids of containers that stopped, vanished or restarted since `started` (id -> StartedAt)."""
        ...

    def remove_run(self, run_id: str) -> int:
        """Remove every probe container of this run."""
        ...

    def helper(self, image: str, argv: list[str], run_id: str, pull: bool) -> Any:
        """Start the helper container (host pid namespace, setns capabilities, no network) running argv, and
        return a channel to its stdin and stdout (send, readline(timeout), close). EngineError if it cannot."""
        ...

    def close(self) -> None:
        """Release the engine's connections."""
        ...
