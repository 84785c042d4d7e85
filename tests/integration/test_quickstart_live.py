"""The README's quick start ("Your own stack"), run as written: a corpus app (awesome-compose's
nginx-flask-mysql with the project's local images) from its compose file to a tight contract that holds.

Each `$ ` line of the README's block runs in a directory holding copies of the two compose files at the
same relative paths (the drafts are written there, never into the repository); `docker compose` is the
compose binary the test stack uses, `netcontract` the one under test. The stack is this test's own
(project nginx-flask-mysql, labelled org.netcontract.test=1) and is taken down however the test ends.

Traffic rule: the only connections are the app's own (proxy -> backend:8000, backend -> db:3306 inside
its two networks) and netcontract's probes between its containers; nothing is published on the host and
no name resolves beyond the stack (dns: 127.0.0.1).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import COMPOSE, NETCONTRACT, REPO, docker

pytestmark = pytest.mark.docker

README = REPO / "README.md"
QUICK_PROJECT = "nginx-flask-mysql"


def _lines() -> list[str]:
    section = (
        README.read_text()
        .split("### Your own stack", 1)[1]
        .split("```console", 1)[1]
        .split("```", 1)[0]
    )
    return [line.removeprefix("$ ") for line in section.splitlines() if line.startswith("$ ")]


def _argv(line: str) -> list[str]:
    argv = shlex.split(line)
    if argv[:2] == ["docker", "compose"]:
        return [COMPOSE, *argv[2:]]
    assert argv[0] == "netcontract", line
    return [NETCONTRACT, *argv[1:]]


def _bridges_here() -> bool:
    data = json.loads(docker("network", "inspect", f"{QUICK_PROJECT}_frontnet").stdout)[0]
    name = (data.get("Options") or {}).get(
        "com.docker.network.bridge.name"
    ) or f"br-{data['Id'][:12]}"
    return Path(f"/sys/class/net/{name}").exists()


def test_the_readme_quickstart_runs_as_written(built_images: None, tmp_path: Path) -> None:
    lines = _lines()
    compose_files = sorted(
        {a for line in lines for a in shlex.split(line) if a.endswith(".yaml") and "/" in a}
    )
    assert len(compose_files) == 2, compose_files
    for rel in compose_files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, tmp_path / rel)
    ps = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={QUICK_PROJECT}").stdout
    assert not ps.strip(), (
        f"a {QUICK_PROJECT} project already runs on this engine: not ours to touch"
    )
    down = next(line for line in lines if line.endswith(" down"))
    try:
        for line in lines:
            if line == down:
                continue
            if "observe" in line.split()[:2] and not _bridges_here():
                pytest.skip("observe: the engine's bridges are in another network namespace")
            proc = subprocess.run(
                _argv(line), cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
            )
            assert proc.returncode == 0, (
                f"$ {line}\nexit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
            if line.startswith("netcontract observe -c"):
                assert "no forbidden flow seen" in proc.stdout, proc.stdout
        draft = yaml.safe_load((tmp_path / "draft.yaml").read_text())
        assert draft["services"]["db"]["ports"] == [3306, 33060]
        text = (tmp_path / "tight.yaml").read_text()
        tight = yaml.safe_load(text)
        # least privilege from the flows the app made: only the ports that answered, the pairs kept apart
        assert tight["services"]["backend"]["ports"] == [8000], text
        assert tight["services"]["db"]["ports"] == [3306], text
        assert "ports" not in tight["services"]["proxy"], text
        assert sorted(tight["policy"]["isolate"]) == ["db -> proxy", "proxy -> db"], text
        assert "# observed served: " in text
        # the README's one-command form: the same least-privilege draft
        one = subprocess.run(
            [NETCONTRACT, "init", "--from-live", "--project", QUICK_PROJECT, "--observe", "10s"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert one.returncode == 0, one.stderr
        assert f"observed project {QUICK_PROJECT} for 10 s through " in one.stderr
        again = yaml.safe_load(one.stdout)
        assert again["services"] == tight["services"], one.stdout
        assert again["policy"] == tight["policy"], one.stdout
    finally:
        subprocess.run(
            _argv(down), cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False
        )
