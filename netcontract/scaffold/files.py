"""Writing a scaffolded compose file safely, and putting the original back.

`write` copies the file to FILE.backup first, records the sha256 of what it
writes in FILE.backup.sha256 (sha256sum format), then replaces FILE
atomically (temp file in the same directory + os.replace, mode preserved).
`restore` moves the backup back only if FILE is still exactly what scaffold
wrote: edits made since are never thrown away. A second scaffold of an
untouched scaffolded file keeps the first, original backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from netcontract.errors import ScaffoldError


def backup_paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    return p.with_name(p.name + ".backup"), p.with_name(p.name + ".backup.sha256")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _recorded(digest: Path) -> str:
    try:
        return digest.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return ""


def atomic_write(path: Path, data: bytes, mode_from: Path | None = None) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode_from is not None and mode_from.exists():
            os.chmod(tmp, mode_from.stat().st_mode & 0o7777)
        else:  # mkstemp makes 0600; a new file gets the usual 0666 & ~umask
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write(path: str | Path, original: str, text: str) -> Path:
    """Back up FILE (unless a scaffold backup of it exists), then replace it with `text`. Returns the backup."""
    p = Path(path)
    backup, digest = backup_paths(p)
    try:
        current = p.read_bytes()
        if current != original.encode("utf-8"):
            raise ScaffoldError(f"{p}: changed while scaffold was reading it; nothing written")
        if backup.exists():
            if not digest.exists():
                raise ScaffoldError(
                    f"{backup} exists but {digest.name} does not, so it was not made by netcontract scaffold: "
                    "move it away first; nothing written"
                )
            if _recorded(digest) != sha256(current):
                raise ScaffoldError(
                    f"{p}: changed since netcontract scaffolded it ({digest.name} does not match): "
                    f"run --restore or remove {backup.name} first; nothing written"
                )
        else:
            atomic_write(backup, current, mode_from=p)
        new = text.encode("utf-8")
        atomic_write(digest, f"{sha256(new)}  {p.name}\n".encode())
        atomic_write(p, new, mode_from=p)
    except OSError as exc:
        raise ScaffoldError(f"{p}: cannot write: {exc.strerror or exc}") from None
    return backup


def restore(path: str | Path) -> Path:
    """Put FILE.backup back over FILE if FILE is what scaffold wrote; return the backup path used."""
    p = Path(path)
    backup, digest = backup_paths(p)
    if not backup.exists():
        raise ScaffoldError(f"{p}: no {backup.name}: nothing to restore")
    if not digest.exists():
        raise ScaffoldError(
            f"{digest}: missing, so netcontract cannot tell whether {p.name} changed since it was scaffolded: "
            f"compare it with {backup.name} and move that back by hand"
        )
    try:
        current = p.read_bytes() if p.exists() else None
        untouched = current is not None and sha256(current) == _recorded(digest)
        never_written = current is not None and current == backup.read_bytes()  # stopped before the replace
        if not (untouched or never_written):
            raise ScaffoldError(
                f"{p}: changed since netcontract scaffolded it (its sha256 is not the one in {digest.name}): "
                f"not restoring over those edits; compare it with {backup.name} and move that back by hand"
            )
        os.replace(backup, p)
        digest.unlink()
    except OSError as exc:
        raise ScaffoldError(f"{p}: cannot restore: {exc.strerror or exc}") from None
    return backup
