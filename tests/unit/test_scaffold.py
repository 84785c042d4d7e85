"""`scaffold`: only network lines change, the result meets the contract, backup and restore are safe."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netcontract.compose.lint import lint_results
from netcontract.compose.loader import load_project
from netcontract.compose.project import ComposeOptions
from netcontract.contract import Contract, contract_from_data, load_contract
from netcontract.errors import MapError, ScaffoldError
from netcontract.results import Verdict
from netcontract.scaffold.files import backup_paths, restore, sha256, write
from netcontract.scaffold.plan import Plan, plan_scaffold
from netcontract.scaffold.splice import Edit, apply_edits, block_end

ROOT = Path(__file__).resolve().parents[2]
DEV_FILE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
CONTRACT = load_contract(ROOT / "contracts" / "devonboarder.yaml")
MAP = {"dashboard": "dashboard-service"}
COMPOSE_BIN = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")


@pytest.fixture
def dev_copy(tmp_path: Path) -> Path:
    """The real dev file in a directory named devonboarder (its project name), with the env file it names."""
    d = tmp_path / "devonboarder"
    d.mkdir()
    (d / ".env.dev").write_text("")
    target = d / "docker-compose.dev.yaml"
    shutil.copyfile(DEV_FILE, target)
    return target


def _changed_lines(plan: Plan) -> tuple[list[str], list[str]]:
    diff = plan.diff().splitlines()
    removed = [ln[1:] for ln in diff if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:] for ln in diff if ln.startswith("+") and not ln.startswith("+++")]
    return removed, added


def _lint_failures(contract: Contract, path: Path, service_map: dict[str, str]) -> list[str]:
    project = load_project(ComposeOptions(files=(str(path),), environ={}))
    return [
        r.id for r in lint_results(contract, project, service_map) if r.verdict is not Verdict.PASS
    ]


# -- the real DevOnboarder dev file ---------------------------------------------------


def test_refuses_a_contract_service_missing_from_the_file(dev_copy: Path) -> None:
    with pytest.raises(
        ScaffoldError,
        match=r"contract service 'dashboard' has no service 'dashboard' here "
        r"\(did you mean 'dashboard-service'\? pass --map dashboard=dashboard-service\)",
    ):
        plan_scaffold(CONTRACT, str(dev_copy))


NETWORK_LINE = re.compile(
    r"^\s*(networks:|- (auth_tier|api_tier|data_tier|devonboarder_network|[a-z.]+\.internal|database)|"
    r"(auth_tier|api_tier|data_tier): \{\}|(auth_tier|api_tier|data_tier):|aliases:|"
    r"name: devonboarder_(auth|api|data)_tier|internal: true)$"
)


def test_dev_file_differs_only_in_network_lines(dev_copy: Path) -> None:
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    removed, added = _changed_lines(plan)
    assert (
        removed == ["      - devonboarder_network"] * 7
    )  # the 7 contract services; bot & co keep theirs
    assert added and all(NETWORK_LINE.match(ln) for ln in added), [
        ln for ln in added if not NETWORK_LINE.match(ln)
    ]
    assert (
        "  devonboarder_network:\n    name: devonboarder_network\n    driver: bridge\n" in plan.text
    )  # bot uses it
    assert "  data_tier:\n    name: devonboarder_data_tier\n    internal: true\n" in plan.text
    assert any("bot is not in the contract" in n for n in plan.notes)
    assert any("db publishes 5432->5432/tcp" in n and "--unpublish" in n for n in plan.notes)


def test_scaffolded_dev_file_passes_lint_but_for_the_published_db_port(dev_copy: Path) -> None:
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    write(dev_copy, plan.original, plan.text)
    # bot, on the old flat network, is no contract service: scaffold leaves it be, lint names it
    assert _lint_failures(CONTRACT, dev_copy, MAP) == ["undeclared:bot", "exposure:db"]


def test_unpublish_makes_the_dev_file_pass_lint(dev_copy: Path) -> None:
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP, unpublish=True)
    removed, _ = _changed_lines(plan)
    assert sorted(set(removed)) == [
        '      - "5432:5432"',
        "      - devonboarder_network",
        "    ports:",
    ]
    write(dev_copy, plan.original, plan.text)
    assert _lint_failures(CONTRACT, dev_copy, MAP) == ["undeclared:bot"]


@pytest.mark.skipif(not Path(COMPOSE_BIN).exists(), reason="docker-compose binary not installed")
def test_docker_compose_accepts_the_scaffolded_dev_file(dev_copy: Path) -> None:
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    write(dev_copy, plan.original, plan.text)
    done = subprocess.run(
        [COMPOSE_BIN, "-f", str(dev_copy), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=dev_copy.parent,
    )
    assert done.returncode == 0, done.stderr
    networks = subprocess.run(
        [COMPOSE_BIN, "-f", str(dev_copy), "config", "--networks"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=dev_copy.parent,
        check=True,
    )
    assert set(networks.stdout.split()) == {
        "auth_tier",
        "api_tier",
        "data_tier",
        "devonboarder_network",
    }


def test_scaffold_then_restore_is_byte_identical(dev_copy: Path) -> None:
    original = dev_copy.read_bytes()
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    backup_path, digest = backup_paths(dev_copy)
    assert write(dev_copy, plan.original, plan.text) == backup_path
    assert backup_path.read_bytes() == original
    assert digest.read_text() == f"{sha256(plan.text.encode())}  docker-compose.dev.yaml\n"
    assert dev_copy.read_text() == plan.text
    assert not plan_scaffold(CONTRACT, str(dev_copy), MAP).changed  # idempotent
    restore(dev_copy)
    assert dev_copy.read_bytes() == original
    assert not backup_path.exists() and not digest.exists()


def test_restore_and_rescaffold_refuse_after_an_edit(dev_copy: Path) -> None:
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    write(dev_copy, plan.original, plan.text)
    edited = dev_copy.read_text() + "# my edit\n"
    dev_copy.write_text(edited)
    with pytest.raises(
        ScaffoldError,
        match=r"changed since netcontract scaffolded it.*not restoring over those edits",
    ):
        restore(dev_copy)
    with pytest.raises(
        ScaffoldError, match=r"changed since netcontract scaffolded it.*nothing written"
    ):
        write(dev_copy, edited, edited.replace("# my edit", "# other"))
    assert dev_copy.read_text() == edited and backup_paths(dev_copy)[0].exists()


def test_rescaffold_keeps_the_first_backup(dev_copy: Path) -> None:
    original = dev_copy.read_bytes()
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    write(dev_copy, plan.original, plan.text)
    again = plan_scaffold(CONTRACT, str(dev_copy), MAP, unpublish=True)
    write(dev_copy, again.original, again.text)
    assert backup_paths(dev_copy)[0].read_bytes() == original
    restore(dev_copy)
    assert dev_copy.read_bytes() == original


def test_backup_files_not_made_by_scaffold(dev_copy: Path) -> None:
    backup_path, _ = backup_paths(dev_copy)
    with pytest.raises(
        ScaffoldError, match=re.escape("no docker-compose.dev.yaml.backup: nothing to restore")
    ):
        restore(dev_copy)
    backup_path.write_text("someone else's")
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    with pytest.raises(ScaffoldError, match="was not made by netcontract scaffold"):
        write(dev_copy, plan.original, plan.text)
    with pytest.raises(ScaffoldError, match="cannot tell whether"):
        restore(dev_copy)
    assert dev_copy.read_bytes() == DEV_FILE.read_bytes()


def test_restore_after_a_write_that_stopped_before_the_replace(dev_copy: Path) -> None:
    backup_path, digest = backup_paths(dev_copy)
    shutil.copyfile(dev_copy, backup_path)
    digest.write_text(f"{'0' * 64}  docker-compose.dev.yaml\n")
    restore(dev_copy)
    assert dev_copy.read_bytes() == DEV_FILE.read_bytes() and not backup_path.exists()


def test_write_preserves_the_file_mode(dev_copy: Path) -> None:
    dev_copy.chmod(0o640)
    plan = plan_scaffold(CONTRACT, str(dev_copy), MAP)
    write(dev_copy, plan.original, plan.text)
    assert dev_copy.stat().st_mode & 0o777 == 0o640
    assert backup_paths(dev_copy)[0].stat().st_mode & 0o777 == 0o640


# -- what must stay byte-identical, on a file with every awkward feature ---------------------

SHOP = contract_from_data(
    yaml.safe_load("""
version: 1
project: shop
tiers:
  front: {network: shop_front}
  back: {network: shop_back, internal: true}
services:
  web: {tiers: [front, back], aliases: {front: [www.shop.internal]}}
  db: {tiers: [back]}
policy: {allow: ["front -> back"]}
""")
)

SHOP_FILE = """\
# top comment
x-common: &common
  restart: always   # keep me
  labels:
    a: "quoted"

services:
  web:
    <<: *common
    image: 'web:1'
    networks:   # the old flat network
      - flat
    command: ["a", 'b']
  db:
    image: db
    # a comment inside db
    ports:
      - "5432:5432"
  worker:
    image: w
    networks: [flat]

networks:
  # the flat network everyone shares
  flat:
    driver: bridge
"""


def _shop(tmp_path: Path, text: str = SHOP_FILE, name: str = "compose.yaml") -> Path:
    d = tmp_path / "shop"
    d.mkdir(exist_ok=True)
    path = d / name
    path.write_bytes(text.encode())
    return path


def _unchanged_outside(plan: Plan, allowed: re.Pattern[str]) -> None:
    removed, added = _changed_lines(plan)
    assert all(allowed.match(ln) for ln in removed + added), [
        ln for ln in removed + added if not allowed.match(ln)
    ]


SHOP_LINE = re.compile(
    r"^\s*(networks:.*|- (flat|front|back|www\.shop\.internal)|(front|back|flat):( \{\})?|"
    r"aliases:|name: shop_(front|back)|internal: true|driver: bridge|# the flat network.*|)$"
)


def test_comments_anchors_quoting_and_order_survive(tmp_path: Path) -> None:
    path = _shop(tmp_path)
    plan = plan_scaffold(SHOP, str(path))
    _unchanged_outside(plan, SHOP_LINE)
    assert "    networks:   # the old flat network\n      front:\n        aliases:\n" in plan.text
    assert (
        '    ports:\n      - "5432:5432"\n    networks:\n      - back\n  worker:' in plan.text
    )  # appended
    assert (
        "  flat:\n    driver: bridge\n  front:\n    name: shop_front\n  back:\n" in plan.text
    )  # worker keeps flat
    path.write_text(plan.text)
    assert _lint_failures(SHOP, path, {}) == ["undeclared:worker", "exposure:db"]


def test_old_network_and_its_comment_go_once_unused(tmp_path: Path) -> None:
    text = SHOP_FILE.replace("  worker:\n    image: w\n    networks: [flat]\n", "")
    plan = plan_scaffold(SHOP, str(_shop(tmp_path, text)))
    assert "flat" not in plan.text.split("\nnetworks:\n")[1]
    assert "# the flat network everyone shares" not in plan.text
    assert plan.text.endswith(
        "networks:\n  front:\n    name: shop_front\n  back:\n    name: shop_back\n    internal: true\n"
    )


def test_networks_appended_when_the_file_has_none(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: w\n  db:\n    image: d"  # no newline at the end
    plan = plan_scaffold(SHOP, str(_shop(tmp_path, text)))
    assert plan.text.startswith("services:\n  web:\n    image: w\n    networks:\n      front:\n")
    assert plan.text.endswith(
        "  db:\n    image: d\n    networks:\n      - back\n\nnetworks:\n  front:\n"
        "    name: shop_front\n  back:\n    name: shop_back\n    internal: true\n"
    )


def test_crlf_and_sequence_at_key_column_are_kept(tmp_path: Path) -> None:
    text = "services:\r\n  web:\r\n    networks:\r\n    - flat\r\n    image: w\r\n  db:\r\n    networks:\r\n    - flat\r\nnetworks:\r\n  flat: {}\r\n"
    plan = plan_scaffold(SHOP, str(_shop(tmp_path, text)))
    assert "\n" not in plan.text.replace("\r\n", "")
    assert "  db:\r\n    networks:\r\n    - back\r\nnetworks:\r\n  front:\r\n" in plan.text
    assert "    image: w\r\n" in plan.text


def test_networks_from_a_merge_key_are_overridden_in_the_service(tmp_path: Path) -> None:
    text = "x: &x\n  networks: [flat]\nservices:\n  web:\n    <<: *x\n    image: w\n  db:\n    <<: *x\nnetworks:\n  flat: {}\n"
    plan = plan_scaffold(SHOP, str(_shop(tmp_path, text)))
    assert plan.text.startswith(
        "x: &x\n  networks: [flat]\nservices:\n  web:\n    <<: *x\n    image: w\n    networks:\n"
    )
    assert "  flat: {}" not in plan.text  # no service uses it any more


def test_existing_tier_definitions_are_reused_and_fixed(tmp_path: Path) -> None:
    text = (
        "services:\n  web:\n    networks: [f, back]\n  db:\n    networks: [back]\nnetworks:\n"
        "  f:\n    name: shop_front\n    labels: {x: y}\n  back:\n    internal: false  # was open\n"
    )
    plan = plan_scaffold(SHOP, str(_shop(tmp_path, text)))
    assert (
        "    networks:\n      f:\n        aliases:\n          - www.shop.internal\n      back: {}\n"
        in plan.text
    )
    assert plan.text.endswith("  back:\n    internal: true\n")
    null_entry = text.replace("  back:\n    internal: false  # was open\n", "  back:\n")
    assert plan_scaffold(SHOP, str(_shop(tmp_path, null_entry))).text.endswith(
        "  back:\n    internal: true\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  web: {image: w}\n  db: {}\n", "services.web: not a block mapping"),
        (
            "services:\n  web:\n    network_mode: host\n  db: {}\n",
            "services.web: uses network_mode host",
        ),
        (
            "services:\n  web:\n    networks: &n [flat]\n  db:\n    networks: *n\nnetworks:\n  flat: {}\n",
            "services.web.networks: defines anchor &n",
        ),
        (
            "services:\n  web:\n    networks:\n      front:\n        ipv4_address: 10.0.0.2\n  db: {}\nnetworks:\n  front:\n    name: shop_front\n",
            "services.web.networks.front: has ipv4_address",
        ),
        (
            "services:\n  web: {}\n  db: {}\nnetworks:\n  front:\n    name: other\n",
            "networks.front names network other, not shop_front",
        ),
        ("services:\n  web: {}\n", "contract service 'db' has no service 'db' here"),
        ("services:\n  web:\n    extends: {service: x}\n  db: {}\n", "does not read `extends`"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path: Path, text: str, message: str) -> None:
    path = _shop(tmp_path, text)
    with pytest.raises(Exception, match=re.escape(message)) as exc:
        plan_scaffold(SHOP, str(path))
    assert "\n" not in str(exc.value)
    assert path.read_text() == text and not backup_paths(path)[0].exists()


def test_map_must_name_a_contract_service(tmp_path: Path) -> None:
    with pytest.raises(
        MapError, match=re.escape("--map dash=x: the contract has no service 'dash'")
    ):
        plan_scaffold(SHOP, str(_shop(tmp_path)), {"dash": "x"})


# -- the line machinery ------------------------------------------------------------------


def test_block_end_stops_before_trailing_comments_and_blank_lines() -> None:
    lines = ["a:\n", "  - x\n", "  # inside\n", "  - y\n", "\n", "  # after\n", "b: 1\n"]
    assert block_end(lines, 0, 0) == 4
    assert block_end(["k:\n", "- x\n", "- y\n", "j: 1\n"], 0, 0) == 3


def test_apply_edits_refuses_overlaps() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        apply_edits(["a\n", "b\n"], [Edit(0, 2, ()), Edit(1, 1, ("x\n",))], "\n")


def test_the_mapping_form_of_a_service_stays_a_mapping(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.test.yaml"
    shutil.copyfile(ROOT / "docker-compose.test.yaml", compose)
    assert not plan_scaffold(
        CONTRACT, str(compose)
    ).changed  # the test stack already matches the contract
    data = yaml.safe_load((ROOT / "contracts" / "devonboarder.yaml").read_text())
    data["services"]["traefik"]["tiers"] = ["auth_tier"]
    plan = plan_scaffold(contract_from_data(data), str(compose))
    assert _changed_lines(plan) == (["      api_tier: {}"], [])
