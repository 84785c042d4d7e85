"""The 7-service test stack for the docker-marked tests in tests/install: brought up when it is not, and
taken down afterwards only when this module brought it up (tests/integration may hold it for its session).
Run these tests under the lock (flock /tmp/netcontract-live.lock), as every live test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = str(Path(sys.executable).parent / "docker-compose")
STACK = ROOT / "docker-compose.test.yaml"
PROJECT = "devonboarder"
PROBE_IMAGE = (
    "netcontract-test/probe:local"  # built by scripts/build-images.sh (make images), never pulled
)


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMPOSE, "-f", str(STACK), "-p", PROJECT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _running() -> bool:
    proc = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return bool(proc.stdout.split())


@contextmanager
def running_stack() -> Iterator[None]:
    was_up = _running()
    up = _compose("up", "-d", "--wait")
    assert up.returncode == 0, up.stderr[-3000:]
    try:
        yield
    finally:
        if not was_up:
            _compose("down", "--volumes", "--remove-orphans", "--timeout", "2")
