"""`docker netcontract`: the plugin installed from the wheel by `netcontract install-docker-plugin`, run by
the real docker CLI with a temporary HOME (and DOCKER_CONFIG), never the real ~/.docker. No engine is needed:
the docker CLI runs plugins without one, and the check below is pointed at a socket that does not exist."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from conftest import ROOT, CleanVenv, run, user_env

CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
STACK = str(ROOT / "docker-compose.test.yaml")


@pytest.fixture(scope="module")
def docker_cli() -> str:
    found = shutil.which("docker")
    assert found, "the docker CLI is needed (CI installs docker.io)"
    return found


@pytest.fixture
def home(tmp_path: Path, installed: CleanVenv) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    env = user_env(HOME=str(h))
    env.pop("DOCKER_CONFIG", None)
    proc = run([installed.exe("netcontract"), "install-docker-plugin"], env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plugin = h / ".docker" / "cli-plugins" / "docker-netcontract"
    assert proc.stdout.strip() == f"installed {plugin}: try `docker netcontract --version`"
    assert plugin.stat().st_mode & stat.S_IXUSR
    return h


def _docker(docker_cli: str, home: Path, *args: str, **env: str) -> tuple[int, str, str]:
    e = user_env(HOME=str(home), **env)
    e.pop("DOCKER_CONFIG", None)
    proc = run([docker_cli, *args], env=e, cwd=home)
    return proc.returncode, proc.stdout, proc.stderr


def test_metadata_answers_the_plugin_protocol(installed: CleanVenv) -> None:
    proc = run([installed.exe("docker-netcontract"), "docker-cli-plugin-metadata"], env=user_env())
    data = json.loads(proc.stdout)
    assert data["SchemaVersion"] == "0.1.0" and data["Version"] == "0.1.0"
    assert data["ShortDescription"] and data["Vendor"] == "netcontract"


def test_docker_lists_and_runs_the_plugin(docker_cli: str, home: Path) -> None:
    code, out, err = _docker(docker_cli, home, "netcontract", "--version")
    assert (code, out) == (0, "netcontract, version 0.1.0\n"), err
    code, out, _ = _docker(docker_cli, home, "--help")
    assert code == 0 and "netcontract" in out
    code, out, _ = _docker(docker_cli, home, "netcontract", "check", "--help")
    assert code == 0 and out.startswith("Usage: docker netcontract check [OPTIONS]")


def test_exit_codes_pass_through_docker(docker_cli: str, home: Path, tmp_path: Path) -> None:
    code, out, err = _docker(
        docker_cli,
        home,
        "netcontract",
        "lint",
        "-c",
        CONTRACT,
        "-f",
        STACK,
        "--compose-loader",
        "builtin",
        "-q",
    )
    assert code == 0, out + err
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntiers: {t: {network: n}}\nservices: {a: {tiers: [u]}}\n")
    code, _, err = _docker(docker_cli, home, "netcontract", "check", "-c", str(bad))
    assert code == 4 and "unknown tier 'u'" in err
    code, _, err = _docker(
        docker_cli,
        home,
        "netcontract",
        "check",
        "-c",
        CONTRACT,
        DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock",
    )
    assert code == 3 and err.startswith("netcontract: cannot reach the Docker engine"), err


def test_docker_config_moves_the_plugin_dir(
    docker_cli: str, installed: CleanVenv, tmp_path: Path
) -> None:
    cfg = tmp_path / "cfg"
    env = user_env(HOME=str(tmp_path / "nohome"), DOCKER_CONFIG=str(cfg))
    assert run([installed.exe("netcontract"), "install-docker-plugin"], env=env).returncode == 0
    assert (cfg / "cli-plugins" / "docker-netcontract").is_file()
    proc = run([docker_cli, "netcontract", "--version"], env=env)
    assert proc.returncode == 0 and proc.stdout == "netcontract, version 0.1.0\n", proc.stderr
