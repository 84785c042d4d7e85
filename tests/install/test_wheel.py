"""The wheel and sdist as `python -m build` makes them (the release workflow's build job), and the wheel
installed into a clean venv outside the checkout: --version, lint on a fixture, and (docker) check on the
live test stack."""

from __future__ import annotations

import json
import re
import shutil
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, CleanVenv, Dist, run, user_env
from stack import PROBE_IMAGE, running_stack

CONTRACT = ROOT / "contracts" / "devonboarder.yaml"
STACK = ROOT / "docker-compose.test.yaml"


def _tracked(*patterns: str) -> set[str]:
    out = run(["git", "ls-files", "-co", "--exclude-standard", *patterns], cwd=ROOT).stdout.split()
    return {p for p in out if (ROOT / p).is_file()}


def test_the_wheel_carries_every_module_and_both_commands(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as whl:
        names = set(whl.namelist())
        entry_points = next(
            whl.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")
        )
        meta = next(whl.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    modules = {p for p in _tracked("netcontract") if p.endswith(".py")}
    assert modules and modules <= names, modules - names
    assert "netcontract/py.typed" in names
    assert (
        "netcontract = netcontract.cli.entry:run" in entry_points
    )  # Ctrl-C and a closed stdout from the first line
    assert "docker-netcontract = netcontract.cli.plugin:main" in entry_points
    assert "# netcontract" in meta  # the README is the long description
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names), names


def test_the_sdist_carries_the_tests_docs_and_tooling(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n.removeprefix(top + "/") for n in tar.getnames()}
    wanted = _tracked(
        "netcontract", "tests", "docs", "contracts", "scripts", "benchmarks", ".github", ".ci"
    )
    wanted |= {
        "LICENSE",
        "README.md",
        "Makefile",
        "pyproject.toml",
        "docker-compose.test.yaml",
        "Dockerfile",
        "action.yml",
        ".pre-commit-hooks.yaml",
    }
    assert wanted <= names, sorted(wanted - names)
    built = re.compile(
        r"^images/[^/]+/(busybox|listen)$|__pycache__|\.pyc$"
    )  # build-images.sh's artefacts
    assert not [n for n in names if built.search(n)]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory far from the checkout, with copies of a contract and a compose file."""
    (tmp_path / "contract.yaml").write_text(CONTRACT.read_text())
    (tmp_path / "compose.yaml").write_text(STACK.read_text())
    return tmp_path


def test_the_installed_wheel_runs_outside_the_checkout(installed: CleanVenv, outside: Path) -> None:
    proc = run([installed.exe("netcontract"), "--version"], cwd=outside, env=user_env())
    assert (proc.returncode, proc.stdout) == (0, "netcontract, version 0.1.0\n"), proc.stderr
    where = run(
        [installed.exe("python"), "-c", "import netcontract; print(netcontract.__file__)"],
        cwd=outside,
        env=user_env(),
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.root) and not Path(where).is_relative_to(ROOT), (
        where
    )
    proc = run(
        [installed.exe("netcontract"), "lint", "-c", "contract.yaml", "--format", "json"],
        cwd=outside,
        env=user_env(),
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    report = json.loads(proc.stdout)
    assert report["summary"]["failed"] == 0 and report["summary"]["passed"] > 10
    proc = run([installed.exe("netcontract"), "schema", "--report"], cwd=outside, env=user_env())
    assert json.loads(proc.stdout)["title"] == "netcontract report"


@pytest.fixture
def live_stack() -> Iterator[None]:
    with running_stack():
        yield


@pytest.mark.docker
def test_the_installed_wheel_checks_the_live_stack(
    installed: CleanVenv, outside: Path, live_stack: None
) -> None:
    proc = run(
        [
            installed.exe("netcontract"),
            "check",
            "-c",
            "contract.yaml",
            "--no-pull",
            "-q",
            "--json",
            "reports/report.json",
        ],
        cwd=outside,
        env=user_env(NETCONTRACT_PROBE_IMAGE=PROBE_IMAGE),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "contract holds" in proc.stdout
    report = json.loads((outside / "reports" / "report.json").read_text())
    assert report["summary"]["errors"] == 0 and report["summary"]["passed"] > 100


def _dockerignore_context(dest: Path) -> list[str]:
    """Copy what the top-level .dockerignore lets into the image's build context (`*`, then `!path` entries)."""
    rules = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert rules[0] == "*", "the context starts from nothing and names what it needs"
    kept = [r[1:].rstrip("/") for r in rules[1:] if r.startswith("!")]
    for rel in kept:
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / rel)
    return kept


def test_the_image_build_context_builds_netcontract(tmp_path: Path) -> None:
    """The Dockerfile installs /src, the build context .dockerignore lets through: it must build on its own."""
    ctx = tmp_path / "context"
    ctx.mkdir()
    kept = _dockerignore_context(ctx)
    assert {"pyproject.toml", "README.md", "LICENSE", "netcontract"} <= set(kept)
    proc = run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "out"), str(ctx)]
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = (tmp_path / "out").glob("netcontract-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        assert "netcontract/cli/main.py" in whl.namelist()
