"""Contract loading: shape, references, policy, names; every error is one line with a YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcontract.contract import contract_from_data, load_contract
from netcontract.errors import ContractError

ROOT = Path(__file__).resolve().parents[2]


def base() -> dict:
    return {
        "version": 1,
        "project": "p",
        "tiers": {
            "api_tier": {"network": "p_api"},
            "data_tier": {"network": "p_data", "internal": True},
        },
        "services": {
            "backend": {"tiers": ["api_tier", "data_tier"], "ports": [8001]},
            "db": {"tiers": ["data_tier"], "aliases": {"data_tier": ["database"]}, "ports": [5432]},
        },
        "policy": {"allow": ["api_tier -> data_tier"], "isolate": []},
    }


def errors_of(data: dict) -> list[str]:
    with pytest.raises(ContractError) as exc:
        contract_from_data(data, "c.yaml")
    return exc.value.lines()


def test_devonboarder_contract_loads() -> None:
    c = load_contract(ROOT / "contracts" / "devonboarder.yaml")
    assert c.project == "devonboarder"
    assert c.tiers["data_tier"].internal
    assert c.services["backend"].home_tier == "api_tier"
    assert c.services["db"].aliases["data_tier"] == ("db.devonboarder.internal", "database")
    assert ("frontend", "db") in c.isolated_pairs()


def test_valid_base() -> None:
    c = contract_from_data(base())
    assert c.allowed_flows() == {("api_tier", "data_tier")}
    assert c.members("data_tier") == ["backend", "db"]


def test_unknown_tier_names_path_and_suggests() -> None:
    d = base()
    d["services"]["backend"]["tiers"] = ["api_tier", "dta_tier"]
    assert errors_of(d) == [
        "c.yaml: services.backend.tiers[1]: unknown tier 'dta_tier' (did you mean 'data_tier'?)"
    ]


def test_unknown_key() -> None:
    d = base()
    d["services"]["db"]["prots"] = [1]
    assert errors_of(d) == ["c.yaml: services.db.prots: unknown key (did you mean 'ports'?)"]


def test_membership_forbidden_by_policy() -> None:
    d = base()
    d["policy"]["allow"] = []
    (line,) = errors_of(d)
    assert line.startswith("c.yaml: services.backend.tiers[1]: policy forbids joining 'data_tier'")


def test_alias_claimed_twice_on_one_tier() -> None:
    d = base()
    d["services"]["backend"]["aliases"] = {"data_tier": ["database"]}
    (line,) = errors_of(d)
    assert "alias 'database' on tier 'data_tier' is already claimed by service" in line


def test_alias_equal_to_service_name_on_same_tier() -> None:
    d = base()
    d["services"]["db"]["aliases"] = {"data_tier": ["backend"]}
    (line,) = errors_of(d)
    assert "services.db.aliases.data_tier[0]" in line and "'backend'" in line


@pytest.mark.parametrize("name", ["db;rm -rf /", "DB", "-db", "db$(id)", "a" * 64, "db.x"])
def test_service_name_that_would_break_a_shell_is_rejected(name: str) -> None:
    d = base()
    d["services"][name] = d["services"].pop("db")
    lines = errors_of(d)
    assert any(f"services.{name}: service name is not a valid DNS label" in line for line in lines)


@pytest.mark.parametrize("alias", ["a b", "x;y", "$(id)", "под", "a..b"])
def test_bad_alias_rejected(alias: str) -> None:
    d = base()
    d["services"]["db"]["aliases"] = {"data_tier": [alias]}
    (line,) = errors_of(d)
    assert line.startswith("c.yaml: services.db.aliases.data_tier[0]: ")
    assert "not a valid DNS name" in line


def test_isolate_contradicting_memberships() -> None:
    d = base()
    d["policy"]["isolate"] = ["backend -> db"]
    (line,) = errors_of(d)
    assert (
        line
        == "c.yaml: policy.isolate[0]: backend and db share tier 'data_tier', so Docker lets backend reach db"
    )


def test_isolate_unknown_service_and_bad_arrow() -> None:
    d = base()
    d["policy"]["isolate"] = ["fronted -> db", "nonsense"]
    lines = errors_of(d)
    assert "c.yaml: policy.isolate[0]: unknown service 'fronted'" in lines
    assert any(line.startswith("c.yaml: policy.isolate[1]: expected") for line in lines)


def test_version_must_be_1() -> None:
    d = base()
    d["version"] = 2
    assert errors_of(d) == [
        "c.yaml: version: unsupported version 2 (this netcontract reads version 1)"
    ]


def test_malformed_yaml_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("version: 1\ntiers: [\n")
    with pytest.raises(ContractError) as exc:
        load_contract(p)
    (line,) = exc.value.lines()
    assert line.startswith(f"{p}: malformed YAML: line 3")


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("version: 1\ntiers: {}\nservices: {}\nservices: {}\n")
    with pytest.raises(ContractError) as exc:
        load_contract(p)
    assert "duplicate key 'services'" in exc.value.lines()[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError) as exc:
        load_contract(tmp_path / "nope.yaml")
    assert exc.value.lines() == [f"{tmp_path / 'nope.yaml'}: no such file"]


def test_not_a_mapping() -> None:
    with pytest.raises(ContractError):
        contract_from_data(["x"], "c.yaml")


def test_models_are_frozen() -> None:
    c = contract_from_data(base())
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on assignment
        c.project = "other"  # type: ignore[misc]


def test_egress_canary_host_must_be_an_address_or_a_name() -> None:
    d = base()
    d["policy"]["egress_canaries"] = [{"host": "10.0.0.1;reboot", "port": 80}]
    (line,) = errors_of(d)
    assert line.startswith(
        "c.yaml: policy.egress_canaries[0].host: '10.0.0.1;reboot' is not a valid DNS name"
    )
    d["policy"]["egress_canaries"] = [{"host": "172.30.0.5", "port": 8080}, {"host": "canary.test"}]
    assert len(contract_from_data(d).policy.egress_canaries) == 2
