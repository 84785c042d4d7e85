"""The docs stay true: every contract example loads (or fails as documented), and the
field tables match the models."""

from __future__ import annotations

import importlib.util
import itertools
import re
from pathlib import Path
from types import ModuleType

import pytest

from netcontract.contract import contract_from_data, parse_yaml
from netcontract.errors import ContractError
from netcontract.results import ExitCode

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_MD = ROOT / "docs" / "contract.md"
CI_MD = ROOT / "docs" / "ci.md"
INVALID = "<!-- invalid -->"


def _blocks(path: Path) -> list[tuple[int, str, str, bool]]:
    """(line number, language, text, marked invalid) for every fenced block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        before = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
        end = lines.index("```", i + 1)
        out.append((i + 1, m.group(1), "\n".join(lines[i + 1 : end]) + "\n", before == INVALID))
        i = end + 1
    return out


CONTRACT_BLOCKS = _blocks(CONTRACT_MD)
YAML = [(n, text, bad) for n, lang, text, bad in CONTRACT_BLOCKS if lang == "yaml"]


def test_there_is_one_example_per_kind_of_expectation() -> None:
    assert sum(1 for _, _, bad in YAML if not bad) >= 8
    text = CONTRACT_MD.read_text(encoding="utf-8")
    for heading in (
        "Tiers and network flags",
        "Service membership and home tier",
        "DNS aliases",
        "Ports",
        "Health",
        "policy.allow",
        "policy.isolate",
        "Egress canaries",
    ):
        assert f"\n## {heading}\n" in text, heading


@pytest.mark.parametrize(
    ("line", "text"),
    [(n, t) for n, t, bad in YAML if not bad],
    ids=[f"line{n}" for n, _, bad in YAML if not bad],
)
def test_valid_examples_load(line: int, text: str) -> None:
    contract_from_data(parse_yaml(text, f"contract.md:{line}"), f"contract.md:{line}")


@pytest.mark.parametrize(
    ("line", "text"),
    [(n, t) for n, t, bad in YAML if bad],
    ids=[f"line{n}" for n, _, bad in YAML if bad],
)
def test_invalid_examples_are_rejected(line: int, text: str) -> None:
    with pytest.raises(ContractError):
        contract_from_data(parse_yaml(text, "contract.yaml"), "contract.yaml")


def test_documented_error_messages_are_the_real_ones() -> None:
    """An invalid example followed by a plain block shows the exact error lines."""
    checked = 0
    for (_, lang, text, bad), (_, next_lang, shown, _) in itertools.pairwise(CONTRACT_BLOCKS):
        if lang == "yaml" and bad and next_lang == "":
            with pytest.raises(ContractError) as exc:
                contract_from_data(parse_yaml(text, "contract.yaml"), "contract.yaml")
            assert exc.value.lines() == shown.strip().splitlines()
            checked += 1
    assert checked >= 1


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_contract_docs", ROOT / "scripts" / "gen_contract_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_field_tables_match_the_models() -> None:
    gen = _generator()
    text = CONTRACT_MD.read_text(encoding="utf-8")
    assert gen.replace_between_markers(text, gen.field_table()) == text, (
        "docs/contract.md field tables are stale: run .venv/bin/python scripts/gen_contract_docs.py"
    )


def test_field_tables_cover_every_field() -> None:
    gen = _generator()
    table = gen.field_table()
    for model in gen.models():
        assert f"### {model.__name__}\n" in table
        for name in model.model_fields:
            assert f"| `{name}` |" in table, f"{model.__name__}.{name}"


def test_generator_rejects_a_doc_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        _generator().replace_between_markers("no markers here", "table")


def test_ci_doc_lists_every_exit_code() -> None:
    text = CI_MD.read_text(encoding="utf-8")
    for code in (
        ExitCode.OK,
        ExitCode.VIOLATED,
        ExitCode.USAGE,
        ExitCode.NOT_EVALUATED,
        ExitCode.INVALID_CONTRACT,
    ):
        assert re.search(rf"^\| {int(code)} \|", text, re.MULTILINE), code


def test_ci_doc_uses_the_script_and_workflow_that_exist() -> None:
    text = CI_MD.read_text(encoding="utf-8")
    for rel in (
        "scripts/validate_network_contracts.sh",
        ".github/workflows/network-contract.yml",
        ".pre-commit-hooks.yaml",
    ):
        assert rel in text and (ROOT / rel).exists(), rel
