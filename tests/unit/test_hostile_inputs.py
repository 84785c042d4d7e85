"""Hostile input files: every refusal is one line naming the file, exit 4 for the contract and 3 for a
compose file, never a traceback, never a hang, under 200 MB (time: benchmarks/hostile.py).

The corpus is tests/hostile/yaml/ (see tests/hostile/README.md); the cases too big or too odd to
commit (a 10 MB file, a FIFO, a symlink loop, 100,000 nodes) are made here. Each runs through click's
CliRunner (catch_exceptions=False: an exception would fail the test, not become exit 70), and the big
ones again as a subprocess of `.venv/bin/netcontract`, whose peak RSS is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netcontract.cli.main import main
from netcontract.yaml_input import MAX_BYTES, MAX_DEPTH, MAX_INTEGER, MAX_NODES, MAX_SCALAR

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "hostile" / "yaml"
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
COMPOSE = str(ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml")
NETCONTRACT = Path(sys.executable).with_name("netcontract")
BUILTIN = ["--compose-loader", "builtin"]  # netcontract's reader: the one these limits belong to

MEGABYTES = (
    200  # peak memory of a refusal; time is measured by benchmarks/hostile.py, never asserted here
)
HANG = 60  # seconds after which a run is a hang, not a slow run


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def _one_line(err: str, name: str) -> str:
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert name in err, err
    return err


# -- the corpus, file by file -----------------------------------------------------------------------

CONTRACT_CASES = {
    "billion-laughs.contract.yaml": f"aliases expand to more than {MAX_NODES} nodes",
    "nested-1000-flow.contract.yaml": "nesting depth",
    "int-5000-digits.contract.yaml": f"an integer of 5000 characters (limit {MAX_INTEGER})",
    "hex-int-20000-digits.contract.yaml": f"an integer of 20002 characters (limit {MAX_INTEGER})",
    "sequence-key.contract.yaml": "a mapping key must be a plain value",
    "duplicate-key.contract.yaml": "duplicate key 'version'",
    "python-tag.contract.yaml": "could not determine a constructor",
    "bell-character.contract.yaml": "character U+0007",
    "nul-byte.contract.yaml": "contains a NUL byte",
    "invalid-utf8.contract.yaml": "not UTF-8 text",
    "not-a-mapping.contract.yaml": "a contract is a YAML mapping",
    "two-documents.contract.yaml": "expected a single document",
}
COMPOSE_CASES = {
    "billion-laughs.compose.yaml": f"aliases expand to more than {MAX_NODES} nodes",
    "merge-laughs.compose.yaml": f"aliases expand to more than {MAX_NODES} nodes",
    "nested-1000-flow.compose.yaml": f"nesting deeper than {MAX_DEPTH} levels",
    "int-5000-digits.compose.yaml": f"an integer of 5000 characters (limit {MAX_INTEGER})",
    "sequence-key.compose.yaml": "a mapping key must be a plain value",
    "mapping-key.compose.yaml": "a mapping key must be a plain value",
    "duplicate-key.compose.yaml": "duplicate key 'web'",
    "python-tag.compose.yaml": "could not determine a constructor",
    "nul-byte.compose.yaml": "contains a NUL byte",
    "invalid-utf8.compose.yaml": "not UTF-8 text",
    "empty.compose.yaml": "empty compose file",
}


def test_every_corpus_file_has_a_case() -> None:
    assert {p.name for p in CORPUS.glob("*.yaml")} == (
        set(CONTRACT_CASES)
        | set(COMPOSE_CASES)
        | {
            "sexagesimal.contract.yaml",
            "newline-in-names.contract.yaml",
            "ansi-in-keys.contract.yaml",
        }
    )


@pytest.mark.parametrize("name", sorted(CONTRACT_CASES))
@pytest.mark.parametrize("command", ["lint", "graph"])
def test_hostile_contract_exits_4_with_one_line(name: str, command: str) -> None:
    path = str(CORPUS / name)
    args = (
        ["lint", "-c", path, "-f", COMPOSE, *BUILTIN]
        if command == "lint"
        else ["graph", "-c", path]
    )
    code, out, err = _run(*args)
    assert code == 4 and out == ""
    assert CONTRACT_CASES[name] in _one_line(err, path)


@pytest.mark.parametrize("name", sorted(COMPOSE_CASES))
@pytest.mark.parametrize("command", ["lint", "init"])
def test_hostile_compose_file_exits_3_with_one_line(name: str, command: str) -> None:
    path = str(CORPUS / name)
    args = (
        ["lint", "-c", CONTRACT, "-f", path]
        if command == "lint"
        else ["init", "--from-compose", path]
    )
    code, out, err = _run(*args, *BUILTIN)
    assert code == 3 and out == ""
    assert COMPOSE_CASES[name] in _one_line(err, path)


def test_many_problems_are_a_bounded_list(tmp_path: Path) -> None:
    c = tmp_path / "c.yaml"
    c.write_text(
        "version: 1\ntiers: {}\nservices:\n"
        + "".join(f"  s{i}: {{tiers: [nope]}}\n" for i in range(500))
    )
    code, _, err = _run("graph", "-c", str(c))
    lines = err.splitlines()
    assert code == 4 and len(lines) == 21 and lines[-1] == f"{c}: ... and 480 more problems"


def test_names_and_keys_from_the_file_are_escaped_and_cut(tmp_path: Path) -> None:
    code, _, err = _run("graph", "-c", str(CORPUS / "ansi-in-keys.contract.yaml"))
    assert (
        code == 4
        and "\x1b" not in err
        and "\x07" not in err
        and "'\\x1b[2J\\x1b]0;owned\\x07'" in err
    )
    c = tmp_path / "c.yaml"
    c.write_text(f"version: 1\ntiers: {{}}\nservices:\n  {'x' * 60_000}: {{tiers: [t]}}\n")
    code, _, err = _run("graph", "-c", str(c))
    assert code == 4 and max(len(line) for line in err.splitlines()) < 500


# -- cases made here ---------------------------------------------------------------------------------


def _big_file(d: Path) -> Path:
    p = d / "big.yaml"
    with p.open("w") as f:
        f.write("# " + "x" * (10 * 1024 * 1024) + "\n")  # 10 MB: over MAX_BYTES before any parsing
    return p


def _fifo(d: Path) -> Path:
    p = d / "fifo.yaml"
    os.mkfifo(p)
    return p


def _loop(d: Path) -> Path:
    (d / "a.yaml").symlink_to("b.yaml")
    (d / "b.yaml").symlink_to("a.yaml")
    return d / "a.yaml"


def _directory(d: Path) -> Path:
    (d / "dir.yaml").mkdir()
    return d / "dir.yaml"


MADE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "10 MB file": (_big_file, f"the limit is {MAX_BYTES}"),
    "FIFO": (_fifo, "not a regular file (a FIFO, socket or device is not read)"),
    "symlink loop": (_loop, "a symlink loop"),
    "directory": (_directory, "is a directory"),
    "device": (lambda d: Path("/dev/zero"), "not a regular file"),
}


@pytest.mark.parametrize("case", sorted(MADE))
def test_unreadable_inputs_are_refused_at_once(tmp_path: Path, case: str) -> None:
    make, message = MADE[case]
    path = str(make(tmp_path))
    runs = [
        (["lint", "-c", path, "-f", COMPOSE, *BUILTIN], 4),
        (["lint", "-c", CONTRACT, "-f", path, *BUILTIN], 3),
        (["graph", "-c", path], 4),
        (["init", "--from-compose", path, *BUILTIN], 3),
        (["scaffold", "-c", CONTRACT, "-f", path], 3),
    ]
    if (
        case != "10 MB file"
    ):  # env files are read by compose/reader.py:read_env, without the size limit
        runs.append((["lint", "-c", CONTRACT, "-f", COMPOSE, "--env-file", path, *BUILTIN], 3))
    for args, want in runs:
        code, out, err = _run(*args)
        assert (code, out) == (want, ""), (args, err)
        assert message in _one_line(err, path)


def test_a_missing_file_is_one_line_after_the_usage_checks() -> None:
    code, _, err = _run("lint", "-c", "nope.yaml", "-f", COMPOSE, *BUILTIN)
    assert code == 4 and "no such file" in _one_line(err, "nope.yaml")
    code, _, err = _run("init", "--from-compose", "nope.yaml", "--from-live")
    assert code == 2 and "give exactly one of" in err


# -- big cases in a subprocess: time and peak RSS -------------------------------------------------------

_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.monotonic()\n"
    "r = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=30)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'code': r.returncode, 'err': r.stderr, 'wall': time.monotonic() - t,\n"
    "                  'seconds': u.ru_utime + u.ru_stime, 'rss_mb': u.ru_maxrss / 1024}))\n"
)


def measured(*args: str) -> dict[str, Any]:
    """Run `netcontract ARGS` in a subprocess of a fresh interpreter: its exit code, stderr, CPU seconds
    (user + system: what the case costs, whatever else the machine runs), wall time and peak RSS
    (getrusage of the children of that interpreter: the netcontract process alone)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(NETCONTRACT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _flat(d: Path) -> Path:
    p = d / "flat.yaml"
    p.write_text("services:\n  web: {image: nginx}\nx-many:\n" + "  - a\n" * (MAX_NODES + 10))
    return p


def _block_nest(d: Path) -> Path:
    p = d / "nest.yaml"
    p.write_text(
        "services:\n  web: {image: nginx}\nx-deep:\n"
        + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(1000))
        + "  " * 1001
        + "v: 1\n"
    )
    return p


def _long_scalar(d: Path) -> Path:
    p = d / "long.yaml"
    p.write_text("services:\n  web:\n    image: " + "a" * (MAX_BYTES - 100) + "\n")
    return p


BIG: dict[str, tuple[Callable[[Path], Path], str]] = {
    "billion laughs": (lambda d: CORPUS / "billion-laughs.compose.yaml", "aliases expand"),
    "merge laughs": (lambda d: CORPUS / "merge-laughs.compose.yaml", "aliases expand"),
    "100,010 nodes": (_flat, f"more than {MAX_NODES} nodes"),
    "1000 levels of block mappings": (_block_nest, f"nesting deeper than {MAX_DEPTH} levels"),
    "a 4 MiB scalar": (_long_scalar, f"limit {MAX_SCALAR}"),
    "10 MB file": (_big_file, "the limit is"),
    "FIFO": (_fifo, "not a regular file"),
    "symlink loop": (_loop, "a symlink loop"),
}


@pytest.mark.parametrize("case", sorted(BIG))
def test_big_compose_cases_in_a_subprocess(tmp_path: Path, case: str) -> None:
    make, message = BIG[case]
    path = str(make(tmp_path))
    got = measured("lint", "-c", CONTRACT, "-f", path, *BUILTIN)
    assert got["code"] == 3, got
    assert isinstance(got["err"], str) and message in _one_line(got["err"], path)
    assert got["rss_mb"] < MEGABYTES, (
        got
    )  # time is the benchmark's (benchmarks/hostile.py), not a test's


@pytest.mark.parametrize("case", ["billion laughs", "sexagesimal", "FIFO", "10 MB file"])
def test_big_contract_cases_in_a_subprocess(tmp_path: Path, case: str) -> None:
    made = {
        "billion laughs": (CORPUS / "billion-laughs.contract.yaml", 4, "aliases expand"),
        "sexagesimal": (CORPUS / "sexagesimal.contract.yaml", 4, f"(limit {MAX_INTEGER})"),
        "FIFO": (_fifo(tmp_path), 4, "not a regular file"),
        "10 MB file": (_big_file(tmp_path), 4, "the limit is"),
    }
    path, code, message = made[case]
    got = measured("graph", "-c", str(path))
    assert got["code"] == code, got
    assert isinstance(got["err"], str) and message in got["err"] and "Traceback" not in got["err"]
    assert got["rss_mb"] < MEGABYTES, (
        got
    )  # time is the benchmark's (benchmarks/hostile.py), not a test's


def test_billion_laughs_with_the_default_compose_loader() -> None:
    path = str(CORPUS / "billion-laughs.compose.yaml")
    # its own session: on a timeout the whole group goes, Compose's process included
    proc = subprocess.Popen(
        [str(NETCONTRACT), "lint", "-c", CONTRACT, "-f", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"still running after {HANG} s")
    assert proc.returncode == 3 and "aliases expand" in _one_line(err, path)


# -- the last resort: an exception nobody expected is one line and exit 70 in every command -------------


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["lint", "-c", CONTRACT, "-f", COMPOSE, *BUILTIN], "netcontract.compose.lint.lint"),
        (["graph", "-c", CONTRACT], "netcontract.report.graph.render_graph"),
        (
            ["init", "--from-compose", COMPOSE, *BUILTIN],
            "netcontract.draft.sources.draft_from_compose",
        ),
        (["scaffold", "-c", CONTRACT, "-f", COMPOSE], "netcontract.scaffold.plan.plan_scaffold"),
        (["lint", "-c", CONTRACT, "-f", COMPOSE, *BUILTIN], "netcontract.yaml_input.read_input"),
    ],
)
def test_an_unexpected_exception_is_one_line_and_exit_70(
    command: list[str], target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something nobody expected\nwith a second line \x1b[2J")

    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(module + "." + name, boom)
    monkeypatch.delenv("NETCONTRACT_DEBUG", raising=False)
    if name == "read_input":  # every reader imported it by name: patch where it is used
        for where in ("netcontract.contract", "netcontract.compose.reader"):
            monkeypatch.setattr(f"{where}.read_input", boom)
    code, _, err = _run(*command)
    assert code == 70
    assert (
        err.count("\n") == 1
        and "internal error: RuntimeError: something nobody expected with a second line" in err
    )
    assert "\x1b" not in err and "Traceback" not in err
