"""Contract errors in the contract's words: file:line:col, the key as written, one line per problem, a
suggestion for a misspelling, never a validator type name."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcontract.contract import load_contract
from netcontract.errors import ContractError

HEAD = "version: 1\ntiers:\n  front: {network: p_front}\n  back: {network: p_back}\nservices:\n"


def errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ContractError) as exc:
        load_contract(path)
    return [line.removeprefix(f"{path}") for line in exc.value.lines()]


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (
            "  shop:\n    teirs: [front]\n",
            ":7:5: services.shop.teirs: unknown key (did you mean 'tiers'?)",
        ),
        (
            "  shop:\n    tiers: [front]\n    prots: [80]\n",
            ":8:5: services.shop.prots: unknown key (did you mean 'ports'?)",
        ),
        (
            "  shop:\n    tiers: [front]\n    colour: blue\n",
            ":8:5: services.shop.colour: unknown key; known keys: tiers, network_mode, shared_by, home, aliases, ports, healthy",
        ),
        (
            "  shop:\n    tiers: front\n",
            ":7:5: services.shop.tiers: should be a list, e.g. [a, b], got 'front'",
        ),
        (
            "  shop:\n    tiers: [front]\n    healthy: perhaps\n",
            ":8:5: services.shop.healthy: should be true or false, got 'perhaps'",
        ),
        (
            "  shop:\n    tiers: [front]\n    ports: [80, 70000]\n",
            ":8:17: services.shop.ports[1]: a port is a number from 1 to 65535, got 70000",
        ),
        (
            "  shop:\n    tiers: [front]\n    ports: [http]\n",
            ":8:13: services.shop.ports[0]: should be a whole number, got 'http'",
        ),
        (
            "  shop:\n    tiers: []\n",
            ":7:5: services.shop.tiers: lists no tier (a service lists at least one tier, unless `network_mode` says it has no endpoints of its own)",
        ),
        (
            "  shop: [front]\n",
            ":6:3: services.shop: should be a mapping (key: value lines), got a list",
        ),
        (
            "  shop:\n    tiers: [frnt]\n",
            ":7:13: services.shop.tiers[0]: unknown tier 'frnt' (did you mean 'front'?)",
        ),
        (
            "  shop:\n    aliases: {}\n",
            ":6:3: services.shop.tiers: lists no tier (a service lists at least one tier, unless `network_mode` says it has no endpoints of its own)",
        ),
    ],
)
def test_each_error_shape_is_one_line_with_its_position(
    tmp_path: Path, body: str, want: str
) -> None:
    assert errors(tmp_path, HEAD + body) == [want]


def test_no_validator_type_names(tmp_path: Path) -> None:
    lines = errors(tmp_path, HEAD + "  shop:\n    tiers: 5\n    healthy: [1]\n    ports: {a: 1}\n")
    assert len(lines) == 3
    for line in lines:
        assert "valid" not in line and "tuple" not in line and "Input should" not in line, line


def test_top_level_and_version(tmp_path: Path) -> None:
    assert errors(tmp_path, "version: 2\ntiers: {}\nservices: {}\n") == [
        ":1:1: version: unsupported version 2 (this netcontract reads version 1)"
    ]
    assert errors(tmp_path, "version: 1\ntiers: {}\nservcies: {}\n") == [
        ":3:1: servcies: unknown key (did you mean 'services'? it is required)"
    ]


def test_a_recursive_alias_is_refused_not_followed(tmp_path: Path) -> None:
    (line,) = errors(tmp_path, HEAD + "  shop: &s\n    tiers: [front]\n    loop: *s\n")
    assert "recursive alias" in line


def test_a_misspelt_key_is_one_line_on_stderr_with_exit_4(tmp_path: Path) -> None:
    """Issue 25: `teirs` was two lines (`tiers` missing, `teirs` unknown); the command prints one."""
    from click.testing import CliRunner

    from netcontract.cli.main import main

    path = tmp_path / "c.yaml"
    path.write_text(HEAD + "  shop:\n    teirs: [front]\n")
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  shop:\n    image: x\n")
    run = CliRunner().invoke(main, ["lint", "-c", str(path), "-f", str(compose)])
    assert run.exit_code == 4
    assert run.stderr.splitlines() == [
        f"{path}:7:5: services.shop.teirs: unknown key (did you mean 'tiers'?)"
    ]
