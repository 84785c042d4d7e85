#!/usr/bin/env python3
"""Generate the field tables of docs/contract.md from the pydantic contract models.

    python scripts/gen_contract_docs.py            # rewrite the tables in docs/contract.md
    python scripts/gen_contract_docs.py --check    # exit 1 if they are out of date

The tables sit between `<!-- fields:start -->` and `<!-- fields:end -->`;
everything else in the file is hand-written. tests/unit/test_docs.py fails
when a model changes and the tables were not regenerated.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from netcontract.contract_schema import Contract

START = "<!-- fields:start -->"
END = "<!-- fields:end -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "contract.md"

# Names for the validators that constrain a string; anything else shows as its base type.
_VALIDATED = {
    "dns_name": "DNS name",
    "network_name": "Docker network name",
    "selector": "container selector",
    "network_mode": "network mode",
}

# Used only where a model has no docstring or a field no description. Better:
# add them to netcontract/contract_schema.py, then these entries are ignored.
_MODEL_FALLBACK = {
    "Contract": "The top level of a contract file.",
    "Policy": "What may talk to what, beyond plain tier membership.",
}
_FIELD_FALLBACK = {
    ("Contract", "tiers"): "The tiers, keyed by tier key (used everywhere else in the contract).",
    ("Contract", "services"): "The compose services, keyed by compose service name.",
    ("Contract", "policy"): "Allowed tier flows, isolated pairs and egress canaries.",
    ("Tier", "description"): "Free text for people; netcontract does not read it.",
}


def _flat(metadata: list[Any]) -> list[Any]:
    """Constraints, with those nested in a Field(...) inside Annotated lifted out."""
    out = []
    for m in metadata:
        out += _flat(m.metadata) if isinstance(m, FieldInfo) else [m]
    return out


def _constraints(metadata: list[Any]) -> tuple[str | None, list[str]]:
    """(validator's reader name, constraint words) from Annotated/Field metadata."""
    flat = _flat(metadata)
    funcs = [getattr(getattr(m, "func", None), "__name__", "") for m in flat]
    name = next((_VALIDATED[f] for f in funcs if f in _VALIDATED), None)
    words = [f"at least {m.min_length}" for m in flat if isinstance(m, annotated_types.MinLen)]
    ge = next((m.ge for m in flat if isinstance(m, annotated_types.Ge)), None)
    le = next((m.le for m in flat if isinstance(m, annotated_types.Le)), None)
    if ge is not None and le is not None:
        words.append(f"{ge}-{le}")
    return name, words


def type_text(tp: Any, metadata: list[Any] | None = None) -> str:
    """A reader's name for an annotation: 'list of DNS name', 'map of string to [Tier](#tier)'."""
    metadata = list(metadata or [])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return type_text(args[0], [*args[1:], *metadata])
    name, words = _constraints(metadata)
    suffix = f" ({', '.join(words)})" if words else ""
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(parts)) + suffix
    if origin is typing.Literal:
        return " or ".join(f"`{json.dumps(a)}`" for a in args)
    if origin in (tuple, list):
        return f"list of {type_text(args[0])}{suffix}"
    if origin is dict:
        return f"map of {type_text(args[0])} to {type_text(args[1])}{suffix}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    base = {str: "string", int: "integer", bool: "boolean", float: "number"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )
    return (name or base) + suffix


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def models(root: type[BaseModel] = Contract) -> list[type[BaseModel]]:
    """Every model reachable from `root`, in order of first mention."""
    seen: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in seen:
                return
            seen.append(tp)
            for f in tp.model_fields.values():
                visit(f.annotation)
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return seen


def field_table(root: type[BaseModel] = Contract) -> str:
    out: list[str] = []
    for model in models(root):
        intro = (model.__doc__ or "").strip() or _MODEL_FALLBACK.get(model.__name__, "")
        out += [f"### {model.__name__}", ""]
        if intro:
            out += [intro, ""]
        out += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        for name, f in model.model_fields.items():
            desc = f.description or _FIELD_FALLBACK.get((model.__name__, name), "")
            out.append(
                f"| `{name}` | {_cell(type_text(f.annotation, f.metadata))} | {_default(f)} | {_cell(desc)} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n")


def replace_between_markers(text: str, table: str) -> str:
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"missing {START} / {END} markers")
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the tables are out of date")
    parser.add_argument("doc", nargs="?", type=Path, default=DOC)
    args = parser.parse_args(argv)
    old = args.doc.read_text(encoding="utf-8")
    new = replace_between_markers(old, field_table())
    if old == new:
        return 0
    if args.check:
        print(
            f"{args.doc}: field tables are out of date: run scripts/gen_contract_docs.py",
            file=sys.stderr,
        )
        return 1
    args.doc.write_text(new, encoding="utf-8")
    print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
