"""Writing a scaffolded compose file safely, and putting the original back.

`write` copies the file to FILE.backup first, records the sha256 of what it
writes in FILE.backup.sha256 (sha256sum format), then replaces the file
atomically (temp file in the same directory, fsync, rename, fsync of the
directory). `restore` puts the backup's bytes back only if FILE is still
exactly what scaffold wrote: edits made since are never thrown away. A second
scaffold of an untouched scaffolded file keeps the first, original backup.

The file stays what it was: its mode and owner are kept (scaffold refuses,
having written nothing, when it could not keep the owner), and when FILE is a
symbolic link the link stays and its target is rewritten (`--restore` the
same way). FILE.backup and its digest are next to the path given, and are
never followed: one that is a symlink is refused.

A run stopped half-way (a full disk, a kill) leaves one of two states, each
recognised by the next run, which says so and carries on: FILE.backup equal
to FILE with no digest (stopped before the digest), or a digest that does not
match FILE while FILE still equals FILE.backup (stopped before the replace).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from netcontract.errors import ScaffoldError
from netcontract.output_files import atomic_replace, fsync_dir


def backup_paths(path: str | Path) -> tuple[Path, Path]:
    """FILE.backup and FILE.backup.sha256, next to `path`."""
    p = Path(path)
    return p.with_name(p.name + ".backup"), p.with_name(p.name + ".backup.sha256")


def sha256(data: bytes) -> str:
    """The hex sha256 of `data`, as sha256sum prints it."""
    return hashlib.sha256(data).hexdigest()


def _own(path: Path, what: str) -> bool:
    """Whether `path` exists as a regular file of ours; a symlink or anything else is refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise ScaffoldError(
            f"{path} is a symbolic link, not the {what} scaffold writes: "
            "not following it; move it away; nothing changed"
        )
    if not stat.S_ISREG(st.st_mode):
        raise ScaffoldError(
            f"{path} is not a regular file, so not the {what} scaffold writes: "
            "move it away; nothing changed"
        )
    return True


def _read_own(path: Path) -> bytes:
    """The bytes of a file that `_own` accepted, opened without following a symlink swapped in since."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ScaffoldError(f"{path} is not a regular file: nothing changed")
        return f.read()


def _recorded(digest: Path) -> str:
    try:
        return _read_own(digest).decode("utf-8", "replace").split()[0]
    except (OSError, IndexError):
        return ""


def _target(p: Path) -> Path:
    """The file whose bytes change: `p`, or the final target of `p` when it is a symlink (the link stays)."""
    if not p.is_symlink():
        return p
    try:
        return p.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a loop, on Python 3.11
        raise ScaffoldError(
            f"{p}: a symlink that leads nowhere (or in a loop): nothing changed"
        ) from None


def _check_owner(p: Path, st: os.stat_result) -> None:
    euid = os.geteuid()
    if euid != 0 and st.st_uid != euid:
        raise ScaffoldError(
            f"{p}: owned by uid {st.st_uid}; scaffold would make it yours: run it as that user "
            "(or root); nothing written"
        )


def write(path: str | Path, original: str, text: str, notes: list[str] | None = None) -> Path:
    """Back up FILE (unless a scaffold backup of it exists), then replace it with `text`. Returns the backup.

    `notes` receives a line when this run recovers from an earlier one that stopped half-way."""
    p = Path(path)
    backup, digest = backup_paths(p)
    target = _target(p)
    try:
        st = os.stat(target)
        current = target.read_bytes()
        if current != original.encode("utf-8"):
            raise ScaffoldError(f"{p}: changed while scaffold was reading it; nothing written")
        _check_owner(p, st)
        if _own(backup, "backup"):
            _reuse_backup(p, backup, digest, current, notes)
        else:
            _own(digest, "digest")
            atomic_replace(backup, current, like=st)
        new = text.encode("utf-8")
        atomic_replace(digest, f"{sha256(new)}  {p.name}\n".encode(), like=None)
        atomic_replace(target, new, like=st, strict_owner=True)
    except OSError as exc:
        raise ScaffoldError(f"{p}: cannot write: {exc.strerror or exc}") from None
    return backup


def _reuse_backup(
    p: Path, backup: Path, digest: Path, current: bytes, notes: list[str] | None
) -> None:
    """FILE.backup exists: keep it if scaffold made it (its digest matches FILE), or if an earlier run
    stopped before replacing FILE (FILE.backup is FILE as it is now); refuse anything else."""
    has_digest = _own(digest, "digest")
    if has_digest and _recorded(digest) == sha256(current):
        return  # scaffolded before and untouched since: the first backup is the original
    if _read_own(backup) == current:
        if notes is not None:
            notes.append(
                f"an earlier scaffold of {p.name} stopped before it finished ({backup.name} is "
                f"{p.name} as it is now): finishing it, with {backup.name} as the original"
            )
        return
    if not has_digest:
        raise ScaffoldError(
            f"{backup} exists but {digest.name} does not, so it was not made by netcontract scaffold: "
            "move it away first; nothing written"
        )
    raise ScaffoldError(
        f"{p}: changed since netcontract scaffolded it ({digest.name} does not match): "
        f"run --restore or remove {backup.name} first; nothing written"
    )


def restore(path: str | Path) -> Path:
    """Put FILE.backup back over FILE if FILE is what scaffold wrote; return the backup path used."""
    p = Path(path)
    backup, digest = backup_paths(p)
    if not _own(backup, "backup"):
        raise ScaffoldError(f"{p}: no {backup.name}: nothing to restore")
    if not _own(digest, "digest"):
        target = _target(p)
        if target.exists() and target.read_bytes() == _read_own(
            backup
        ):  # an earlier restore stopped here
            backup.unlink()
            fsync_dir(backup.parent)
            return backup
        raise ScaffoldError(
            f"{digest}: missing, so netcontract cannot tell whether {p.name} changed since it was scaffolded: "
            f"compare it with {backup.name} and move that back by hand"
        )
    target = _target(p)
    try:
        original = _read_own(backup)
        current = target.read_bytes() if target.exists() else None
        untouched = current is not None and sha256(current) == _recorded(digest)
        never_written = current is not None and current == original  # stopped before the replace
        if not (untouched or never_written):
            raise ScaffoldError(
                f"{p}: changed since netcontract scaffolded it (its sha256 is not the one in {digest.name}): "
                f"not restoring over those edits; compare it with {backup.name} and move that back by hand"
            )
        st = os.stat(target)
        _check_owner(p, st)
        atomic_replace(
            target, original, like=st, strict_owner=True
        )  # the link, mode and owner stay
        digest.unlink()
        backup.unlink()
        fsync_dir(backup.parent)
    except OSError as exc:
        raise ScaffoldError(f"{p}: cannot restore: {exc.strerror or exc}") from None
    return backup
