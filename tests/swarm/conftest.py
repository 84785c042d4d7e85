"""Live tests on the multi-node swarm test bed (`make swarm-up`, docs/swarm.md).

They need the three Docker-in-Docker nodes and the stack `nctest`. They are selected only when the
environment says where the bed is: the lines of `scripts/swarm/status.sh --env` (NCSWARM_MANAGER,
NCSWARM_NODE1..3, NCSWARM_NODE1_NAME..), as `scripts/swarm/ci.sh` exports them. Without them they are
*deselected* (the summary says "N deselected" and the header says why), so `make test` on a machine
without the bed neither fails nor shows them as skips; with NCSWARM_REQUIRED=1 (ci.sh sets it) a bed
that is missing or does not answer is an error, never a skip.

Traffic rule: every packet goes to the bed's nodes and tasks (the internal `ncswarm` bridge and the
stack's overlays) or to loopback. Each test restores what it changed and waits until the contract holds
again, also when it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import docker as docker_sdk
import pytest
from swarm_bed import Bed, have_bed

_WHY = (
    "the swarm test bed is not in the environment: `make swarm-up`, then `scripts/swarm/ci.sh --tests-only` "
    "(or export the lines of `scripts/swarm/status.sh --env`)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "swarm: needs the multi-node swarm test bed (make swarm-up)")


def pytest_report_header(config: pytest.Config) -> str | None:
    if have_bed():
        return f"swarm test bed: manager {os.environ['NCSWARM_MANAGER']}"
    return f"swarm tests deselected: {_WHY}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [i for i in items if Path(str(i.fspath)).is_relative_to(Path(__file__).parent)]
    for item in mine:
        item.add_marker(pytest.mark.swarm)
    if have_bed():
        return
    if os.environ.get("NCSWARM_REQUIRED") == "1":
        raise pytest.UsageError(f"NCSWARM_REQUIRED=1 but {_WHY}")
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [i for i in items if i not in mine]


@pytest.fixture(scope="session")
def bed() -> Bed:
    b = Bed()
    for name, url in b.nodes.items():
        c = docker_sdk.DockerClient(base_url=url, timeout=10)
        try:
            c.ping()
        except (
            Exception
        ) as exc:  # the bed is in the environment but does not answer: an error, not a skip
            raise AssertionError(f"swarm node {name} ({url}) does not answer: {exc}") from None
        finally:
            c.close()
    return b


@pytest.fixture
def restore(bed: Bed, tmp_path: Path) -> Iterator[list[Sequence[str]]]:
    """Commands (argv lists for `bed.docker`, or ("node", NODE, *argv) for a node's own shell) run after the
    test, last first, whatever happened; then the contract must hold again."""
    undo: list[Sequence[str]] = []
    yield undo
    problems = []
    for argv in reversed(undo):
        if argv[0] == "node":
            p = bed.node_exec(argv[1], *argv[2:], check=False)
        else:
            p = bed.docker(*argv, check=False)
        if p.returncode != 0:
            problems.append(f"{' '.join(argv)}: {p.stderr.strip()[:300]}")
    assert not problems, "restore failed: " + "; ".join(problems)
    bed.holds(tmp_path)
