"""Fixtures for the tests that install netcontract as a user would: from a git snapshot of this working
tree (pre-commit), from the wheel and sdist `python -m build` makes (a clean venv outside the checkout).

Slower than unit tests (each builds or installs something, 10 to 60 s) and need no Docker engine, except
those marked `docker`, which also need the test stack's lock (docs/testing.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GIT_ID = [
    "-c",
    "user.name=netcontract tests",
    "-c",
    "user.email=tests@netcontract.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 600)
    return subprocess.run(cmd, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def git(cwd: Path, *args: str) -> str:
    proc = run(["git", *GIT_ID, *args], cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return str(proc.stdout).strip()


def snapshot_repo(dest: Path) -> tuple[Path, str]:
    """This working tree (committed or not, ignored files left out) as a fresh git repository: what a user
    would clone at a tag. Returns the repository and its commit."""
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "snapshot")
    return dest, git(dest, "rev-parse", "HEAD")


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return snapshot_repo(tmp_path_factory.mktemp("netcontract-src"))


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="session")
def dist(source_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """`python -m build` of the snapshot: a wheel and an sdist, as the release workflow builds them."""
    out = tmp_path_factory.mktemp("dist")
    proc = run([sys.executable, "-m", "build", "--outdir", str(out), str(source_repo[0])])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("netcontract-*.whl")
    (sdist,) = out.glob("netcontract-*.tar.gz")
    return Dist(wheel, sdist)


@dataclass(frozen=True)
class CleanVenv:
    root: Path
    bin: Path

    def exe(self, name: str) -> str:
        return str(self.bin / name)


def make_venv(where: Path) -> CleanVenv:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return CleanVenv(where, where / "bin")


@pytest.fixture(scope="session")
def installed(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanVenv]:
    """The wheel in a new venv outside the checkout (no editable install, no source tree on sys.path)."""
    env = make_venv(tmp_path_factory.mktemp("clean") / "venv")
    proc = run([env.exe("pip"), "install", "-q", str(dist.wheel)], cwd=env.root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    yield env


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH into this checkout, no virtualenv of ours."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(NO_COLOR="1", **extra)
    return env
