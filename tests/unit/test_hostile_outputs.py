"""Report and output files (--json/--junit/--markdown, graph -o, init -o): never over an input, atomic,
not through a symlink unless --follow-symlinks, and a write that fails is one line, a non-zero exit
and the old file intact."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.main import main
from netcontract.errors import OutputError, OutputExistsError
from netcontract.output_files import write_output

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
CONTRACT = ROOT / "contracts" / "devonboarder.yaml"
NETCONTRACT = Path(sys.executable).with_name("netcontract")
BUILTIN = ["--compose-loader", "builtin"]


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    contract, compose = tmp_path / "contract.yaml", tmp_path / "compose.yaml"
    shutil.copyfile(CONTRACT, contract)
    shutil.copyfile(COMPOSE, compose)
    return contract, compose


def _lint(contract: Path, compose: Path, *more: str) -> tuple[int, str, str]:
    return _run("lint", "-c", str(contract), "-f", str(compose), "-q", *BUILTIN, *more)


# -- never over an input ------------------------------------------------------------------------


def test_lint_never_overwrites_its_inputs(inputs: tuple[Path, Path]) -> None:
    contract, compose = inputs
    before = contract.read_bytes(), compose.read_bytes()
    code, out, err = _lint(contract, compose, "--json", str(contract), "--junit", str(compose))
    assert (
        code == 1 and "contract VIOLATED" in out
    )  # the verdict is printed; the artifacts are refused
    assert err.splitlines() == [
        f"netcontract: cannot write --junit {compose}: it is {compose}, an input of this run; not overwriting it",
        f"netcontract: cannot write --json {contract}: it is {contract}, an input of this run; not overwriting it",
    ]
    assert (contract.read_bytes(), compose.read_bytes()) == before


def test_inputs_are_recognised_through_symlinks_and_hard_links(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    contract, compose = inputs
    (tmp_path / "link.json").symlink_to(contract)
    os.link(compose, tmp_path / "hard.xml")
    code, _, err = _lint(
        contract,
        compose,
        "--json",
        str(tmp_path / "link.json"),
        "--follow-symlinks",
        "--junit",
        str(tmp_path / "hard.xml"),
    )
    assert code == 1 and err.count("an input of this run; not overwriting it") == 2
    assert (
        contract.read_bytes() == CONTRACT.read_bytes()
        and compose.read_bytes() == COMPOSE.read_bytes()
    )


def test_a_default_compose_file_read_without_f_is_an_input(
    inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract, compose = inputs
    monkeypatch.chdir(tmp_path)
    code, _, err = _run("lint", "-c", str(contract), "-q", *BUILTIN, "--markdown", "compose.yaml")
    assert code == 1 and "cannot write --markdown compose.yaml: it is a file this run read" in err
    assert compose.read_bytes() == COMPOSE.read_bytes()


def test_graph_and_init_never_overwrite_their_inputs(inputs: tuple[Path, Path]) -> None:
    contract, compose = inputs
    code, out, err = _run("graph", "-c", str(contract), "-o", str(contract))
    assert (code, out) == (3, "") and err == (
        f"netcontract: cannot write -o {contract}: it is {contract}, an input of this run; not overwriting it\n"
    )
    code, _, err = _run(
        "init", "--from-compose", str(compose), "-o", str(compose), "--force", *BUILTIN
    )
    assert code == 3 and "an input of this run" in err
    assert (
        contract.read_bytes() == CONTRACT.read_bytes()
        and compose.read_bytes() == COMPOSE.read_bytes()
    )


# -- symlinks -----------------------------------------------------------------------------------------


def test_a_symlinked_report_is_refused_unless_asked(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    contract, compose = inputs
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("precious")
    link = tmp_path / "report.md"
    link.symlink_to(elsewhere)
    code, _, err = _lint(contract, compose, "--markdown", str(link))
    assert code == 1 and err == (
        f"netcontract: {link} is a symbolic link: not writing through it "
        "(pass --follow-symlinks to write its target)\n"
    )
    assert elsewhere.read_text() == "precious"
    code, _, err = _lint(contract, compose, "--markdown", str(link), "--follow-symlinks")
    assert code == 1 and err == ""
    assert link.is_symlink() and elsewhere.read_text().startswith("## netcontract lint: FAILED")


def test_graph_output_through_a_symlink(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    contract, _ = inputs
    target, link = tmp_path / "g.mmd", tmp_path / "link.mmd"
    link.symlink_to(target)
    assert _run("graph", "-c", str(contract), "-o", str(link))[0] == 3 and not target.exists()
    assert _run("graph", "-c", str(contract), "-o", str(link), "--follow-symlinks")[0] == 0
    assert link.is_symlink() and target.read_text().startswith("flowchart LR")


def test_init_without_force_never_replaces_a_dangling_symlink(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    _, compose = inputs
    link = tmp_path / "draft.yaml"
    link.symlink_to(tmp_path / "planted")
    code, _, err = _run("init", "--from-compose", str(compose), "-o", str(link), *BUILTIN)
    assert code == 2 and "exists: pass --force" in err and not (tmp_path / "planted").exists()
    code, _, err = _run(
        "init", "--from-compose", str(compose), "-o", str(link), "--force", *BUILTIN
    )
    assert code == 3 and "is a symbolic link" in err and not (tmp_path / "planted").exists()


def test_a_symlink_loop_as_output(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OutputError, match="a symlink loop"):
        write_output(tmp_path / "a", "x", follow_symlinks=True)


# -- atomic, and the old report intact ------------------------------------------------------------------


def test_a_failed_write_keeps_the_old_report_and_leaves_no_temp_file(
    inputs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract, compose = inputs
    report = tmp_path / "reports" / "report.json"
    report.parent.mkdir()
    report.write_text("the old report")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    code, out, err = _lint(contract, compose, "--json", str(report))
    assert code == 1 and "contract VIOLATED" in out
    assert err == f"netcontract: cannot write --json {report}: No space left on device\n"
    assert report.read_text() == "the old report"
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.json"]


def test_an_unwritable_target_is_one_line_and_a_nonzero_exit(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    contract, compose = inputs
    (tmp_path / "not-a-dir").write_text("a file")
    os.mkfifo(tmp_path / "fifo.json")
    for target, why in (
        (tmp_path / "not-a-dir" / "r.json", "Not a directory"),
        (tmp_path / "fifo.json", "No such device or address"),
    ):  # a FIFO nobody reads: no hang
        done = subprocess.run(
            [
                str(NETCONTRACT),
                "lint",
                "-c",
                str(contract),
                "-f",
                str(compose),
                "-q",
                *BUILTIN,
                "--json",
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, (
            done.stderr
        )  # violated; a passing run would exit 3 (test below)
        assert (
            done.stderr.count("\n") == 1 and why in done.stderr and "Traceback" not in done.stderr
        )
    (tmp_path / "a-dir.json").mkdir()  # refused by click before the run: a usage error
    assert _lint(contract, compose, "--json", str(tmp_path / "a-dir.json"))[0] == 2


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux /proc")
def test_an_existing_report_on_a_read_only_filesystem_stays_as_it_was(
    inputs: tuple[Path, Path],
) -> None:
    """/proc/version: a regular file in a directory nobody can add a file to, even root."""
    contract, compose = inputs
    before = Path("/proc/version").read_text()
    done = subprocess.run(
        [
            str(NETCONTRACT),
            "lint",
            "-c",
            str(contract),
            "-f",
            str(compose),
            "-q",
            *BUILTIN,
            "--markdown",
            "/proc/version",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "contract VIOLATED" in done.stdout
    assert (
        done.stderr.startswith("netcontract: cannot write --markdown /proc/version: ")
        and done.stderr.count("\n") == 1
    )
    assert Path("/proc/version").read_text() == before


def test_a_lost_artifact_of_a_passing_run_exits_3(tmp_path: Path) -> None:
    contract = tmp_path / "c.yaml"
    contract.write_text("version: 1\ntiers: {}\nservices: {web: {network_mode: host}}\n")
    compose = tmp_path / "compose.yaml"
    compose.write_text("name: x\nservices:\n  web: {image: nginx, network_mode: host}\n")
    (tmp_path / "r").write_text("a file")
    code, out, err = _run(
        "lint",
        "-c",
        str(contract),
        "-f",
        str(compose),
        *BUILTIN,
        "--junit",
        str(tmp_path / "r" / "j"),
    )
    assert code == 3 and "contract holds" in out and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_directory(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:  # pragma: no cover - CI is root
    contract, compose = inputs
    d = tmp_path / "ro"
    d.mkdir()
    (d / "r.json").write_text("old")
    d.chmod(0o555)
    try:
        code, _, err = _lint(contract, compose, "--json", str(d / "r.json"))
        assert code == 1 and "Permission denied" in err and (d / "r.json").read_text() == "old"
    finally:
        d.chmod(0o755)


def test_atomic_write_keeps_mode_and_owner_and_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.txt"
    target.write_text("old")
    target.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(target, 4321, 4321)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_output(target, "new")
    st = target.stat()
    assert target.read_text() == "new" and stat.S_IMODE(st.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (4321, 4321)
    assert len(synced) == 2  # the file, then its directory
    fresh = tmp_path / "new.txt"
    write_output(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_overwrite_false_never_clobbers(tmp_path: Path) -> None:
    target = tmp_path / "x"
    write_output(target, "first", overwrite=False)
    with pytest.raises(OutputExistsError):
        write_output(target, "second", overwrite=False)
    assert target.read_text() == "first" and sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_a_device_is_written_in_place() -> None:
    assert write_output("/dev/null", "anything") == Path("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
