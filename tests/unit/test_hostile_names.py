"""Names are matched with full-match rules: "db\\n" (which `re.match(r"^...$")` accepts) is refused
everywhere a name is read, and nothing outside the rules' alphabet ever passes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from netcontract import names
from netcontract.contract import contract_from_data, load_contract
from netcontract.errors import ContractError, UnsafeProbeError
from netcontract.probe.observation import Probe, ProbeKind
from netcontract.probe.script import batch_script

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = json.loads((ROOT / "tests" / "hostile" / "names.json").read_text(encoding="utf-8"))
RULES = (
    names.is_label,
    names.is_dns_name,
    names.is_network_name,
    names.is_tier_key,
    names.is_project_name,
)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\r", " ", "\t", "\x00", "\u2028"])
def test_no_rule_accepts_a_trailing_newline_or_space(rule: Any, suffix: str) -> None:
    assert rule("db")
    assert not rule("db" + suffix)
    assert not rule(suffix + "db")


# The corpus names with a character outside every rule's alphabet (which rule takes "DB" or "yes" is
# the rules' own business).
OUTSIDE = [n for n in HOSTILE if not re.fullmatch(r"[A-Za-z0-9_.-]*", n)]


@pytest.mark.parametrize("name", OUTSIDE)
def test_nothing_outside_the_alphabet_passes_any_rule(name: str) -> None:
    assert not any(rule(name) for rule in RULES)


def _contract(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "project": "shop",
        "tiers": {"front": {"network": "shop_front"}},
        "services": {
            "web": {"tiers": ["front"], "aliases": {"front": ["www.shop"]}, "ports": [80]}
        },
        "policy": {"isolate": [], "egress_canaries": [{"host": "example.com"}]},
    }
    data.update(changes)
    return data


WHERE = {
    "service name": lambda n: _contract(services={n: {"tiers": ["front"]}}),
    "tier key": lambda n: _contract(
        tiers={n: {"network": "shop_front"}}, services={"web": {"tiers": [n]}}
    ),
    "alias": lambda n: _contract(services={"web": {"tiers": ["front"], "aliases": {"front": [n]}}}),
    "network": lambda n: _contract(tiers={"front": {"network": n}}),
    "project": lambda n: _contract(project=n),
    "canary host": lambda n: _contract(policy={"egress_canaries": [{"host": n}]}),
}


@pytest.mark.parametrize("where", sorted(WHERE))
@pytest.mark.parametrize(
    "name", ["db\n", "shop\n", "www.shop\n", "shop_front\n", "db\r", "db\x1b[2J", "db "]
)
def test_the_contract_refuses_the_name_everywhere(where: str, name: str) -> None:
    assert contract_from_data(
        WHERE[where]("ok-name" if where != "tier key" else "ok")
    )  # the shape is fine
    with pytest.raises(ContractError) as exc:
        contract_from_data(WHERE[where](name))
    assert all("\n" not in line and "\x1b" not in line for line in exc.value.lines())


def test_a_contract_file_with_newlines_in_its_names_exits_4() -> None:
    with pytest.raises(ContractError) as exc:
        load_contract(ROOT / "tests" / "hostile" / "yaml" / "newline-in-names.contract.yaml")
    text = "\n".join(exc.value.lines())  # the shape pass stops before the rules on keys and project
    assert (
        "'shop_front\\n' is not a valid Docker network name" in text
        and "'www\\n' is not a valid DNS name" in text
    )


@pytest.mark.parametrize(
    "target", ["db\n", "db\n.example", "1.2.3.4\n", "$(reboot)", "db\r", "db..", ".", "$(reboot)."]
)
def test_the_probe_script_refuses_a_hostile_target(target: str) -> None:
    with pytest.raises(UnsafeProbeError):
        batch_script([Probe("p0", ProbeKind.DNS, target)], 1.0)


def test_the_probe_script_takes_an_absolute_name_as_asked_on_podman() -> None:
    script = batch_script([Probe("p0", ProbeKind.DNS, "db.devonboarder.internal.")], 1.0)
    assert "db.devonboarder.internal." in script
