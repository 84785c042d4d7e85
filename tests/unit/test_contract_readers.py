"""The contract's two readers agree (contract.py): the fast reader, which builds the runtime classes from a
contract in canonical form without pydantic, and the pydantic schema (contract_schema.py), which reads
everything else. Whatever the fast reader accepts, the schema accepts with the same result; whatever the
schema rejects, the fast reader declines; and a contract in canonical form loads without importing
pydantic at all (the 0.1 s that issue 23 takes off a check).
"""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from netcontract import contract as runtime
from netcontract import contract_schema as schema
from netcontract.contract import _read, contract_from_data
from netcontract.errors import ContractError

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [
    (runtime.Tier, schema.Tier),
    (runtime.Service, schema.Service),
    (runtime.Canary, schema.Canary),
    (runtime.Policy, schema.Policy),
    (runtime.Contract, schema.Contract),
]


@pytest.mark.parametrize(("fast", "model"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_same_fields_in_the_same_order_with_the_same_defaults(fast: type, model: Any) -> None:
    fields = dataclasses.fields(fast)
    assert [f.name for f in fields] == list(model.model_fields)
    for f in fields:
        m = model.model_fields[f.name]
        if f.default is not dataclasses.MISSING:
            assert (f.default, m.is_required()) == (m.default, False), f.name
        elif f.default_factory is not dataclasses.MISSING:
            assert m.default_factory is not None, f.name
            made, theirs = f.default_factory(), m.default_factory()  # type: ignore[call-arg,misc]
            if dataclasses.is_dataclass(made):
                assert dataclasses.asdict(made) == theirs.model_dump(), f.name  # type: ignore[call-overload]
            else:
                assert made == theirs, f.name
        else:
            assert m.is_required(), f.name


def _corpus() -> list[dict[str, Any]]:
    """Every contract in the repository that parses as a mapping with a version."""
    out = []
    for path in sorted(ROOT.glob("**/*.yaml")):
        if ".venv" in path.parts or "node_modules" in path.parts or path.stat().st_size > 200_000:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(data, dict) and "version" in data and "tiers" in data:
            out.append(data)
    return out


ODD_VALUES: list[Any] = [
    "80",
    80,
    0,
    70000,
    True,
    False,
    None,
    1.5,
    [],
    {},
    "",
    "Has Upper",
    "a b",
    ["x"],
    {"k": "v"},
    ("t",),
    "db.internal",
    "host",
    "service:db",
    "deny",
    1,
]


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, (*path, i))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    if not path:
        return value
    node = out
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return out


def _variants(data: dict[str, Any]) -> Iterator[Any]:
    yield data
    for path in _leaves(data):
        for value in ODD_VALUES:
            yield _set(data, path, value)
        node = data
        for p in path:
            node = node[p]
        if isinstance(node, dict):
            yield _set(data, path, {**node, "teirs": 1})
            for k in list(node):
                yield _set(data, path, {x: v for x, v in node.items() if x != k})


def _schema(data: Any) -> Any:
    try:
        return schema.Contract.model_validate(data)
    except (ValidationError, ValueError, TypeError):
        return None


def test_the_readers_agree_on_every_contract_and_on_each_one_changed_in_every_place() -> None:
    corpus = _corpus()
    assert len(corpus) >= 3, "the repository's contracts were not found"
    accepted = declined_but_valid = rejected = 0
    for base in corpus:
        for data in _variants(base):
            fast = _read(data)
            model = _schema(data)
            if fast is not None:
                assert model is not None, data  # never accept what the schema rejects
                assert _read(model.model_dump()) == fast, data  # and read it the same
                accepted += 1
            elif model is not None:
                # declined, the schema coerced it: the loader's result is the schema's reading
                assert _read(model.model_dump()) is not None
                declined_but_valid += 1
            else:
                rejected += 1
    # the mutations reach all three outcomes
    assert accepted > 50 and declined_but_valid > 10 and rejected > 100, (
        accepted,
        declined_but_valid,
        rejected,
    )


def test_coerced_values_load_as_the_schema_reads_them() -> None:
    data = yaml.safe_load((ROOT / "contracts" / "devonboarder.yaml").read_text())
    data["services"]["backend"]["ports"] = ["8001"]  # a string: the schema coerces it
    assert _read(data) is None
    assert contract_from_data(data).services["backend"].ports == (8001,)


def test_errors_come_from_the_schema_in_the_contracts_words() -> None:
    data = yaml.safe_load((ROOT / "contracts" / "devonboarder.yaml").read_text())
    data["services"]["backend"]["ports"] = [0]
    with pytest.raises(ContractError) as err:
        contract_from_data(data)
    assert [str(i.loc) for i in err.value.issues] and "ports" in str(err.value)


def test_a_canonical_contract_loads_without_pydantic() -> None:
    code = (
        "import sys\n"
        "from netcontract.contract import load_contract\n"
        f"c = load_contract({str(ROOT / 'contracts' / 'devonboarder.yaml')!r})\n"
        "assert c.services\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout
