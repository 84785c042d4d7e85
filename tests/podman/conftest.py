"""Live tests on rootful Podman through its Docker-compatible API (issue 21, docs/engines.md).

They need the Podman API service that `scripts/ensure-podman.sh` starts (in a network namespace of its
own) and run only when NETCONTRACT_PODMAN_HOST names it (`.ci/run` sets it to the script's `--host`).
Without it they are *deselected* (the header says why), so `make test` on a machine without Podman
neither fails nor shows them as skips; with CI set, a Podman that does not answer is an error.

Traffic rule: every packet goes to the containers and networks these tests create on that engine; its
namespace has no route off the machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

_WHY = (
    "NETCONTRACT_PODMAN_HOST is not set: run `scripts/ensure-podman.sh`, then "
    "NETCONTRACT_PODMAN_HOST=$(scripts/ensure-podman.sh --host) pytest tests/podman"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "podman: needs rootful Podman's API (scripts/ensure-podman.sh)"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    host = os.environ.get("NETCONTRACT_PODMAN_HOST")
    return f"podman: {host}" if host else f"podman tests deselected: {_WHY}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [i for i in items if Path(str(i.fspath)).is_relative_to(Path(__file__).parent)]
    for item in mine:
        item.add_marker(pytest.mark.podman)
    if not mine or os.environ.get("NETCONTRACT_PODMAN_HOST"):
        return
    config.hook.pytest_deselected(items=mine)
    items[:] = [i for i in items if i not in mine]


@pytest.fixture(scope="session")
def podman_host() -> str:
    host = os.environ["NETCONTRACT_PODMAN_HOST"]
    proc = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "DOCKER_HOST": host},
    )
    if proc.returncode != 0:  # in the environment but not answering: an error, never a skip
        raise AssertionError(f"Podman at {host} does not answer: {proc.stderr.strip()}")
    return host
