"""`init --from-live` against the test stack (docker-compose.test.yaml, project devonboarder):
the draft describes the stack, and `check` passes on the stack it came from."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from netcontract.cli.main import main
from netcontract.contract import contract_from_data, load_contract

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "devonboarder"
LOCAL_PROBE_IMAGE = "netcontract-test/probe:local"


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def live_stack(request: pytest.FixtureRequest) -> None:
    """The test stack, up and healthy: the shared `stack` fixture when conftest provides one."""
    try:
        request.getfixturevalue("stack")
    except pytest.FixtureLookupError:
        if _docker("info").returncode != 0:
            pytest.skip("docker info fails: no Docker engine to draft from")
    deadline = time.monotonic() + 60
    while True:
        done = _docker(
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={PROJECT}",
            "--format",
            "{{.Status}}",
        )
        statuses = done.stdout.split("\n")[:-1]
        if statuses and all(s.startswith("Up") and "(healthy)" in s for s in statuses):
            return
        if time.monotonic() > deadline:
            pytest.skip(f"the {PROJECT} test stack is not up and healthy (`make up`): {statuses}")
        time.sleep(1)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _draft(tmp_path: Path) -> tuple[Path, Any]:
    target = tmp_path / "draft.yaml"
    code, _, err = _run("init", "--from-live", "--project", PROJECT, "-o", str(target))
    assert code == 0, err
    return target, yaml.safe_load(target.read_text())


def test_live_draft_describes_the_test_stack(live_stack: None, tmp_path: Path) -> None:
    path, data = _draft(tmp_path)
    draft = contract_from_data(data, str(path))
    real = load_contract(ROOT / "contracts" / "devonboarder.yaml")
    assert draft.project == PROJECT
    assert {t.network: t.internal for t in draft.tiers.values()} == {
        t.network: t.internal for t in real.tiers.values()
    }
    net = {k: t.network for k, t in draft.tiers.items()}
    real_net = {k: t.network for k, t in real.tiers.items()}
    for name, svc in real.services.items():
        assert {net[t] for t in draft.services[name].tiers} == {real_net[t] for t in svc.tiers}, (
            name
        )
        assert {real_net[t]: set(a) for t, a in svc.aliases.items()} == {
            net[t]: set(a) for t, a in draft.services[name].aliases.items()
        }, name
        assert set(svc.ports) <= set(draft.services[name].ports), name
    assert "# guessed: derived from memberships" in path.read_text()


def test_live_draft_passes_check_on_the_same_stack(live_stack: None, tmp_path: Path) -> None:
    path, _ = _draft(tmp_path)
    code, out, _ = _run("check", "-c", str(path), "--no-probes", "-q")
    assert code == 0, out
    image = os.environ.get("NETCONTRACT_PROBE_IMAGE") or LOCAL_PROBE_IMAGE
    if _docker("image", "inspect", image).returncode != 0:
        pytest.skip(
            f"probe image {image} is not built (scripts/build-images.sh); structural check passed"
        )
    code, out, _ = _run(
        "check", "-c", str(path), "--probe-image", image, "--no-pull", "--format", "json"
    )
    assert code == 0, out
    # "holds" only counts if the probes ran: an empty report also exits 0
    kinds: dict[str, int] = {}
    for r in json.loads(out)["results"]:
        if r["attempts"]:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    assert (
        kinds.get("reach", 0) >= 10
        and kinds.get("isolation", 0) >= 10
        and kinds.get("dns", 0) >= 10
    ), kinds
