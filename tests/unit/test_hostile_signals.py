"""Ctrl-C and a stdout that cannot be written, on the real console script (a subprocess): exit 130 with
one line at any moment after the interpreter's own start-up, and exit 3 with one line for a full disk,
a closed stdout or --help that cannot be printed. Nothing is timed: the delays are when the signal is
sent, and the long case (8000 tiers, about 1.5 s of work) is still running at each of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netcontract.cli import entry
from netcontract.results import ExitCode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))

from corpus import by_name

NETCONTRACT = str(Path(sys.executable).with_name("netcontract"))


def test_the_entry_codes_are_the_exit_codes() -> None:
    assert (
        entry.INTERRUPTED == ExitCode.INTERRUPTED and entry.NOT_EVALUATED == ExitCode.NOT_EVALUATED
    )


def _started(pid: int, library: str) -> None:
    """Wait until the process has loaded `library` (a compiled module netcontract's imports load): its
    own code is running, past the interpreter's start-up, however slow a busy machine makes that."""
    for _ in range(30_000):
        try:
            if library in Path(f"/proc/{pid}/maps").read_text():
                return
        except OSError:
            return  # exited (the assertion says how), or no /proc
        time.sleep(0.001)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="no /proc")
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.06, 0.15, 0.35, 0.7])
def test_ctrl_c_at_any_moment_is_130_and_one_line(delay: float, tmp_path: Path) -> None:
    """Sent while the imports run (libyaml's compiled module has just been mapped: the contract reader no
    longer imports pydantic for a contract in canonical form) and at moments after that: parsing the
    command line, reading the files, checking 8000 tiers."""
    by_name("contract-8000-tiers").make(tmp_path)
    proc = subprocess.Popen(
        [
            NETCONTRACT,
            "lint",
            "-c",
            "contract.yaml",
            "-f",
            "compose.yaml",
            "--compose-loader",
            "builtin",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _started(proc.pid, "_yaml.cpython")
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode()) == (130, "netcontract: interrupted\n")


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize(
    "args",
    [
        "lint -c contract.yaml -f compose.yaml --compose-loader builtin",
        "init --from-compose compose.yaml --compose-loader builtin",
        "graph -c contract.yaml",
        "--help",
        "--version",
    ],
)
def test_stdout_on_a_full_disk_is_exit_3(args: str, tmp_path: Path) -> None:
    by_name("scale-million").make(tmp_path)
    done = _shell(f"{NETCONTRACT} {args} >/dev/full", tmp_path)
    assert (done.returncode, done.stderr) == (
        3,
        "netcontract: cannot write output: No space left on device\n",
    )


@pytest.mark.parametrize(
    "args", ["lint -c contract.yaml -f compose.yaml --compose-loader builtin", "lint --help"]
)
def test_a_closed_stdout_is_exit_3(args: str, tmp_path: Path) -> None:
    by_name("scale-million").make(tmp_path)
    done = _shell(f"{NETCONTRACT} {args} >&-", tmp_path)
    assert (done.returncode, done.stderr) == (
        3,
        "netcontract: cannot write output: standard output is closed\n",
    )
