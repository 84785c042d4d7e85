"""The files Compose reads on the user's behalf, through the input guard before anyone reads them. Pure
but for reading those files.

Used by compose/positions.py (Compose's loader: every value, env file and label file of the files it
walks) and compose/project.py (netcontract's reader: the env and label files it does not need, so that
a device or FIFO there is refused all the same and no report file replaces them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import yaml

from netcontract.compose.interpolation import InterpolationLimit, Interpolator
from netcontract.compose.reader import RefusedInput, read_env_file
from netcontract.errors import ComposeError, InterpolationError


def scalar(node: yaml.Node, interp: Interpolator) -> str | None:
    """A scalar node's value, interpolated; None when it is no scalar or cannot be interpolated."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        return interp.text(str(node.value))
    except InterpolationError:
        return None  # Compose reports it


def bounded_interpolation(root: yaml.Node, path: str, budget: Interpolator) -> None:
    """Interpolate every value as Compose will (each alias as often as it is used), with the bounds of
    compose/interpolation.py: a nest or an expansion past them is refused here, before Compose runs.
    Other interpolation errors are Compose's to word."""
    cost: dict[int, int] = {}
    stack: list[yaml.Node] = [root]
    while stack:  # at most MAX_NODES visits: positions._node bounded the alias expansion
        n = stack.pop()
        if isinstance(n, yaml.ScalarNode):
            if "$" not in n.value:
                continue
            if id(n) in cost:
                budget.spend(cost[id(n)])
                continue
            before = budget.budget
            try:
                budget.text(str(n.value))
            except InterpolationLimit as exc:
                raise RefusedInput(f"{path}:{n.start_mark.line + 1}: {exc}") from None
            except InterpolationError:
                pass
            cost[id(n)] = before - budget.budget
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yaml.MappingNode):
            stack.extend(v for _, v in n.value)  # keys are not interpolated


def guard_env_file(target: str, where: str, env: Mapping[str, str]) -> bool:
    """Read an env or label file as Compose will, with the input limits (a device, FIFO, a file past
    4 MiB or one whose values expand past the bound is refused). False if it does not exist (Compose
    says so, or reads around it)."""
    if not os.path.lexists(target):
        return False
    try:
        read_env_file(target, env, where)
    except RefusedInput as exc:
        if "no such file" in str(exc):
            return False
        raise
    except ComposeError:
        pass  # a line Compose reads its own way: Compose words any error
    return True


def env_refs(value: yaml.Node, interp: Interpolator) -> list[tuple[str, int, bool]]:
    """(path, line, required) of each env_file entry (short or long syntax)."""
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    refs = []
    for item in items:
        node: yaml.Node | None = item
        required = True
        if isinstance(item, yaml.MappingNode):
            fields = {str(k.value): v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            node = fields.get("path")
            flag = fields.get("required")
            required = not (
                isinstance(flag, yaml.ScalarNode) and str(flag.value).lower() == "false"
            )
        if node is not None:
            ref = scalar(node, interp)
            if ref:
                refs.append((ref, node.start_mark.line + 1, required))
    return refs


def guard_service_files(data: Mapping[str, object], path: str, env: Mapping[str, str]) -> None:
    """netcontract's reader: the env and label files of `data` (one file, interpolated) through the same
    guard as for Compose, so a device or FIFO there is refused, and written over by no output file."""
    services = data.get("services")
    if not isinstance(services, dict):
        return
    here = os.path.dirname(path)
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        for key in ("env_file", "label_file"):
            value = svc.get(key)
            entries = value if isinstance(value, list) else [value] if value is not None else []
            for entry in entries:
                ref = entry.get("path") if isinstance(entry, dict) else entry
                if isinstance(ref, str) and ref:
                    guard_env_file(
                        os.path.normpath(os.path.join(here, ref)),
                        f"{path}: services.{name}.{key}",
                        env,
                    )
