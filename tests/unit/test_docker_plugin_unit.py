"""The docker CLI plugin's pure parts: where it is installed, the launcher it writes, how docker's argv is read.
The real docker CLI runs it in tests/install/test_docker_plugin.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netcontract.cli import plugin
from netcontract.cli.docker_plugin import launcher, metadata, plugin_dir


def test_plugin_dir_follows_docker_config_then_home() -> None:
    assert plugin_dir({"DOCKER_CONFIG": "/cfg", "HOME": "/h"}) == Path("/cfg/cli-plugins")
    assert plugin_dir({"HOME": "/h"}) == Path("/h/.docker/cli-plugins")
    assert plugin_dir({"DOCKER_CONFIG": "", "HOME": "/h"}) == Path("/h/.docker/cli-plugins")


def test_the_launcher_quotes_the_interpreter(tmp_path: Path) -> None:
    odd = tmp_path / "it's a dir" / "python3"
    odd.parent.mkdir()
    odd.write_text(
        f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n"
    )  # this venv's python, from an odd path
    odd.chmod(0o755)
    script = tmp_path / "docker-netcontract"
    script.write_text(launcher(str(odd)))
    script.chmod(0o755)
    proc = subprocess.run(
        [str(script), "docker-cli-plugin-metadata"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert json.loads(proc.stdout) == metadata(), proc.stderr


def test_metadata_and_argv(capsys: pytest.CaptureFixture[str]) -> None:
    plugin.main(["docker-cli-plugin-metadata"])
    assert json.loads(capsys.readouterr().out)["SchemaVersion"] == "0.1.0"
    with pytest.raises(SystemExit) as exit_:
        plugin.main(["netcontract", "--version"])  # docker passes the plugin's name first
    assert exit_.value.code == 0
    assert capsys.readouterr().out == "netcontract, version 0.1.0\n"
