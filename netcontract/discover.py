"""Finding the contract when `-c` is not given: the first directory, from the working directory upwards,
that holds one of `CONTRACT_NAMES`, stopping at the git root (the directory with `.git`) or the
filesystem root. Two names in one directory are ambiguous and refused; none found is a usage error
(exit 2, as a missing `-c` was) that names what was looked for and where.
"""

from __future__ import annotations

import os
from pathlib import Path

from netcontract.errors import NoContractError

CONTRACT_NAMES = ("netcontract.yaml", "netcontract.yml", ".netcontract.yaml", ".netcontract.yml")


def search_dirs(start: Path) -> list[Path]:
    """`start` and its parents, up to and including the first that holds `.git` (or the filesystem root)."""
    out = []
    for d in [start, *start.parents]:
        out.append(d)
        if (d / ".git").exists():
            break
    return out


def find_contract(start: str | Path | None = None) -> str:
    """The contract file to use: its path relative to the working directory when under it, else absolute."""
    here = Path(start) if start is not None else Path.cwd()
    dirs = search_dirs(here.absolute())
    for d in dirs:
        found = [d / n for n in CONTRACT_NAMES if (d / n).is_file()]
        if len(found) > 1:
            raise NoContractError(
                f"no -c given and {d} holds {' and '.join(p.name for p in found)}: "
                "pass -c to choose one"
            )
        if found:
            return _shown(found[0], here)
    top = dirs[-1]
    stop = "the git root" if (top / ".git").exists() else "the filesystem root"
    raise NoContractError(
        f"no contract: -c not given and no {', '.join(CONTRACT_NAMES)} found in {dirs[0]}"
        f"{f' or its parents up to {top} ({stop})' if len(dirs) > 1 else ''}"
    )


def _shown(path: Path, here: Path) -> str:
    rel = os.path.relpath(path, here.absolute())
    return rel if not rel.startswith("..") or rel.count("..") <= 3 else str(path)
