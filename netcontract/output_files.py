"""Writing report and output files safely: every file netcontract writes for the user goes here.

- Never over an input: the target is compared by (st_dev, st_ino), so through
  symlinks and hard links, with every file the run was given or read (the
  contract, the compose files, env files).
- Atomic: the text goes to a temporary file in the target's directory, is
  fsynced, renamed over the target, and the directory is fsynced. A write that
  fails (full disk, read-only directory) leaves the old file as it was and no
  temporary file behind.
- Not through a symlink unless asked (`--follow-symlinks`), neither the file nor
  any directory of its path as written: a report path in a checked-out
  repository may be a link planted to make CI overwrite something else. With
  the flag the link's final target is written (atomically, the link stays). A character device or FIFO (`/dev/null`) is written in place.
- An existing file keeps its mode and, where the user may set it, its owner; a
  new file gets 0666 minus the umask.

Every failure is an `OutputError` (or `OutputExistsError`) with one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from netcontract.errors import OutputError, OutputExistsError

FileId = tuple[int, int]  # (st_dev, st_ino)


def file_id(path: str | Path) -> FileId | None:
    """(st_dev, st_ino) of the file `path` names (symlinks followed), or None when there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    return exc.strerror or str(exc)


def linked_parent(path: Path) -> Path | None:
    """The first directory of `path` as written (from `/`, or from the working directory) that is a
    symbolic link, if any: `out/report.json` with `out -> /etc` would be written through it."""
    parts = path.parts[:-1]
    here = Path(parts[0]) if path.is_absolute() else Path()
    for part in parts[1:] if path.is_absolute() else parts:
        here = here / part
        try:
            if stat.S_ISLNK(os.lstat(here).st_mode):
                return here
        except OSError:
            return None  # missing (made later, or an error the write reports)
    return None


def resolve_target(path: Path, *, follow_symlinks: bool, flag: str = "--follow-symlinks") -> Path:
    """The file to write for `path`: `path` itself, or the final target of a symlink when following.
    A symlink anywhere in the path, its directories included, is refused unless following."""
    if not follow_symlinks:
        parent = linked_parent(path)
        if parent is not None:
            raise OutputError(
                f"{parent} is a symbolic link: not writing {path} through it (pass {flag} to write "
                "through it)"
            )
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_why(exc)}") from None
    if not stat.S_ISLNK(st.st_mode):
        return path
    if not follow_symlinks:
        raise OutputError(
            f"{path} is a symbolic link: not writing through it (pass {flag} to write its target)"
        )
    try:
        real = Path(path).resolve(strict=False)
    except (OSError, RuntimeError):  # RuntimeError: a loop, on Python 3.11
        raise OutputError(f"cannot write {path}: a symlink loop") from None
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISLNK(os.lstat(real).st_mode):
            raise OutputError(f"cannot write {path}: a symlink loop")
    return real


def write_output(
    path: str | Path,
    data: str | bytes,
    *,
    protect: Iterable[str | Path] = (),
    protect_ids: Iterable[FileId] = (),
    follow_symlinks: bool = False,
    overwrite: bool = True,
    make_parents: bool = False,
    label: str = "",
    flag: str = "--follow-symlinks",
) -> Path:
    """Write `data` to `path` as the module docstring says; return the file actually written.

    `protect`/`protect_ids`: the run's inputs, never replaced. `overwrite=False` refuses an
    existing file (OutputExistsError), atomically. `label` names the option in messages
    (`--json report.json`)."""
    name = f"{label} {path}" if label else str(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    target = resolve_target(Path(path), follow_symlinks=follow_symlinks, flag=flag)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {_why(exc)}") from None
    if st is not None:
        ids = set(protect_ids)
        for p in protect:
            fid = file_id(p)
            if fid is not None:
                ids.add(fid)
            if (st.st_dev, st.st_ino) == fid:
                raise OutputError(
                    f"cannot write {name}: it is {p}, an input of this run; not overwriting it"
                )
        if (st.st_dev, st.st_ino) in ids:
            raise OutputError(
                f"cannot write {name}: it is a file this run read; not overwriting it"
            )
        if not overwrite:
            raise OutputExistsError(f"{path} exists: pass --force to overwrite it")
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {name}: it is a directory")
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            _write_in_place(target, raw, name)
            return target
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"cannot write {name}: not a regular file")
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        atomic_replace(target, raw, like=st, overwrite=overwrite)
    except FileExistsError:
        raise OutputExistsError(f"{path} exists: pass --force to overwrite it") from None
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {_why(exc)}") from None
    return target


def _write_in_place(target: Path, raw: bytes, name: str) -> None:
    try:  # O_NONBLOCK: a FIFO nobody reads is ENXIO at once, not a hang; then blocking writes as usual
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {_why(exc)}") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable. Filesystems that cannot fsync a directory are let be."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_replace(
    target: Path,
    raw: bytes,
    *,
    like: os.stat_result | None,
    overwrite: bool = True,
    strict_owner: bool = False,
) -> None:
    """Temp file in `target`'s directory, fsync, rename over `target`, fsync the directory.

    `like`: the stat of the file being replaced; its mode is kept, and its owner and group when the
    process may set them (`strict_owner`: raise PermissionError instead of giving up the owner).
    `overwrite=False`: the temp file is hard-linked into place, which fails if `target` exists
    (FileExistsError), so no existing file is ever replaced. OSError on any failure; the temporary
    file is removed and `target` is untouched."""
    directory = target.parent
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            if like is not None:
                os.fchmod(f.fileno(), stat.S_IMODE(like.st_mode) & 0o1777)  # no setuid/setgid bits
                _keep_owner(f.fileno(), like, strict_owner)
                os.fchmod(
                    f.fileno(), stat.S_IMODE(like.st_mode)
                )  # chown clears setuid/setgid: set them last
            else:  # mkstemp makes 0600; a new file gets the usual 0666 & ~umask
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
        fsync_dir(directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _keep_owner(fd: int, like: os.stat_result, strict: bool) -> None:
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) == (like.st_uid, like.st_gid):
        return
    try:
        os.fchown(fd, like.st_uid, like.st_gid)
    except PermissionError:
        with contextlib.suppress(
            PermissionError
        ):  # not root: at least the group, if the user is in it
            os.fchown(fd, -1, like.st_gid)
        if strict:
            raise PermissionError(
                errno.EPERM, f"cannot keep its owner {like.st_uid}:{like.st_gid}"
            ) from None


def _link_new(tmp: str, target: Path) -> None:
    """Put `tmp` at `target` only if nothing is there, atomically."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.EXDEV,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EMLINK,
        ):
            raise
        # a filesystem without hard links: exclusive create, then the bytes (not atomic, never clobbers)
        with open(tmp, "rb") as src:
            raw = src.read()
        fd = os.open(
            target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(os.stat(tmp).st_mode)
        )
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    os.unlink(tmp)
