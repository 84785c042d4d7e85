"""`scaffold` keeps the file what it was (owner, mode, a symlink stays a symlink, --restore the same way),
fsyncs, recovers from a run that stopped half-way with a clear message, and never follows a backup
that was swapped for a symlink."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract import output_files
from netcontract.cli.main import main
from netcontract.errors import ScaffoldError
from netcontract.scaffold.files import backup_paths, restore, sha256, write

ROOT = Path(__file__).resolve().parents[2]
DEV_FILE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
OLD, NEW = "services:\n  web: {image: a}\n", "services:\n  web: {image: b}\n"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


@pytest.fixture
def compose(tmp_path: Path) -> Path:
    p = tmp_path / "compose.yaml"
    p.write_text(OLD)
    return p


def test_a_symlinked_file_stays_a_symlink_and_restore_writes_through_it(tmp_path: Path) -> None:
    real = tmp_path / "real" / "compose.yaml"
    real.parent.mkdir()
    real.write_text(OLD)
    link = tmp_path / "compose.yaml"
    link.symlink_to(real)
    backup = write(link, OLD, NEW)
    assert link.is_symlink() and real.read_text() == NEW
    assert (
        backup == tmp_path / "compose.yaml.backup"
        and backup.read_text() == OLD
        and not backup.is_symlink()
    )
    restore(link)
    assert link.is_symlink() and real.read_text() == OLD and not backup.exists()


def test_scaffold_through_the_cli_keeps_the_link(tmp_path: Path) -> None:
    d = tmp_path / "devonboarder"
    d.mkdir()
    (d / ".env.dev").write_text("")
    real = d / "real.yaml"
    shutil.copyfile(DEV_FILE, real)
    link = d / "docker-compose.dev.yaml"
    link.symlink_to("real.yaml")
    run = CliRunner().invoke(
        main,
        ["scaffold", "-c", CONTRACT, "-f", str(link), "--map", "dashboard=dashboard-service"],
        catch_exceptions=False,
    )
    assert run.exit_code == 0, run.stderr
    assert link.is_symlink() and real.read_bytes() != DEV_FILE.read_bytes()
    run = CliRunner().invoke(
        main, ["scaffold", "-f", str(link), "--restore"], catch_exceptions=False
    )
    assert run.exit_code == 0 and link.is_symlink() and real.read_bytes() == DEV_FILE.read_bytes()


@ROOT_ONLY
def test_owner_and_mode_are_kept(compose: Path) -> None:
    os.chown(compose, 4321, 4322)
    compose.chmod(0o640)
    backup = write(compose, OLD, NEW)
    for p in (compose, backup):
        st = p.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4321, 4322, 0o640), p
    restore(compose)
    st = compose.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), compose.read_text()) == (
        4321,
        4322,
        0o640,
        OLD,
    )


def test_the_directory_is_fsynced(compose: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dirs: list[Path] = []
    real = output_files.fsync_dir

    def fsync_dir(d: Path) -> None:
        dirs.append(d)
        real(d)

    monkeypatch.setattr(output_files, "fsync_dir", fsync_dir)
    write(compose, OLD, NEW)
    assert dirs == [compose.parent] * 3  # backup, digest, file


def test_an_orphan_backup_from_a_run_that_stopped_before_its_digest(compose: Path) -> None:
    backup, digest = backup_paths(compose)
    backup.write_text(OLD)  # the earlier run wrote the backup, then the disk was full
    notes: list[str] = []
    write(compose, OLD, NEW, notes)
    assert (
        compose.read_text() == NEW
        and digest.read_text() == f"{sha256(NEW.encode())}  compose.yaml\n"
    )
    assert notes == [
        "an earlier scaffold of compose.yaml stopped before it finished (compose.yaml.backup is "
        "compose.yaml as it is now): finishing it, with compose.yaml.backup as the original"
    ]
    restore(compose)
    assert compose.read_text() == OLD


def test_a_run_that_stopped_before_the_replace(compose: Path) -> None:
    backup, digest = backup_paths(compose)
    backup.write_text(OLD)
    digest.write_text(f"{sha256(b'something else')}  compose.yaml\n")
    notes: list[str] = []
    write(compose, OLD, NEW, notes)
    assert compose.read_text() == NEW and len(notes) == 1


def test_a_restore_that_stopped_before_removing_the_backup(compose: Path) -> None:
    backup, _ = backup_paths(compose)
    backup.write_text(OLD)  # restored, digest removed, then stopped
    assert restore(compose) == backup and not backup.exists() and compose.read_text() == OLD


def test_the_cli_says_it_recovered(compose: Path) -> None:
    d = compose.parent / "devonboarder"
    d.mkdir()
    (d / ".env.dev").write_text("")
    target = d / "docker-compose.dev.yaml"
    shutil.copyfile(DEV_FILE, target)
    backup_paths(target)[0].write_bytes(DEV_FILE.read_bytes())
    run = CliRunner().invoke(
        main,
        ["scaffold", "-c", CONTRACT, "-f", str(target), "--map", "dashboard=dashboard-service"],
        catch_exceptions=False,
    )
    assert (
        run.exit_code == 0
        and "note: an earlier scaffold of docker-compose.dev.yaml stopped" in run.stderr
    )


@pytest.mark.parametrize("which", ["backup", "digest"])
def test_a_backup_swapped_for_a_symlink_is_refused(
    compose: Path, tmp_path: Path, which: str
) -> None:
    write(compose, OLD, NEW)
    backup, digest = backup_paths(compose)
    secret = tmp_path / "secret"
    secret.write_text("not yours")
    swapped = backup if which == "backup" else digest
    swapped.unlink()
    swapped.symlink_to(secret)
    with pytest.raises(
        ScaffoldError, match=r"is a symbolic link, not the .* scaffold writes: not following it"
    ):
        restore(compose)
    with pytest.raises(ScaffoldError, match="is a symbolic link"):
        write(compose, NEW, OLD)
    assert compose.read_text() == NEW and secret.read_text() == "not yours" and swapped.is_symlink()


def test_someone_elses_backup_still_blocks(compose: Path) -> None:
    backup, _ = backup_paths(compose)
    backup.write_text("mine")
    with pytest.raises(ScaffoldError, match="was not made by netcontract scaffold"):
        write(compose, OLD, NEW)
    assert compose.read_text() == OLD and backup.read_text() == "mine"


def test_a_dangling_symlink_is_one_line(tmp_path: Path) -> None:
    link = tmp_path / "compose.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    with pytest.raises(ScaffoldError, match="a symlink that leads nowhere"):
        write(link, OLD, NEW)


def test_a_failed_replace_leaves_the_file_and_says_so(
    compose: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.replace

    def fail_on_the_file(src: str, dst: os.PathLike[str] | str) -> None:
        if Path(dst) == compose:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_the_file)
    with pytest.raises(ScaffoldError, match="cannot write: No space left on device"):
        write(compose, OLD, NEW)
    assert compose.read_text() == OLD
    assert sorted(p.name for p in compose.parent.iterdir()) == [
        "compose.yaml",
        "compose.yaml.backup",
        "compose.yaml.backup.sha256",
    ]
    monkeypatch.undo()
    notes: list[str] = []
    write(compose, OLD, NEW, notes)  # the next run finishes the job
    assert compose.read_text() == NEW and notes
