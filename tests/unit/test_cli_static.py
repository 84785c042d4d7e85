"""`netcontract lint | init | scaffold` through click: output and exit codes. No daemon."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
DEV_FILE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
TEST_STACK = str(ROOT / "docker-compose.test.yaml")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def dev_copy(tmp_path: Path) -> Path:
    d = tmp_path / "devonboarder"
    d.mkdir()
    shutil.copyfile(DEV_FILE, d / "docker-compose.dev.yaml")
    return d / "docker-compose.dev.yaml"


def test_commands_are_registered() -> None:
    assert {"lint", "init", "scaffold"} <= set(main.commands)


# -- lint ----------------------------------------------------------------------------


def test_lint_reports_the_dev_file_one_violation_at_a_time() -> None:
    code, out, _ = _run("lint", "-c", CONTRACT, "-f", str(DEV_FILE), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert (
        report["command"] == "lint"
        and report["source"] == str(DEV_FILE)
        and report["exit_code"] == 1
    )
    failed = {r["id"]: r for r in report["results"] if r["verdict"] == "FAIL"}
    assert set(failed) == {
        "network:auth_tier",
        "network:api_tier",
        "network:data_tier",
        "running:dashboard",
        "networks:traefik",
        "networks:auth-service",
        "networks:backend",
        "networks:discord-integration",
        "networks:frontend",
        "networks:db",
        "alias:auth-service@auth_tier:auth.devonboarder.internal",
        "alias:backend@api_tier:api.devonboarder.internal",
        "alias:db@data_tier:db.devonboarder.internal",
        "alias:db@data_tier:database",
        "exposure:db",
        "undeclared:bot",
        "undeclared:dashboard-service",  # services of the file the contract does not name
    }
    assert failed["exposure:db"]["actual"] == "5432->5432/tcp"
    assert f"(services.db at {DEV_FILE}:35)" in failed["exposure:db"]["reason"]
    assert "devonboarder_network (not a tier)" in failed["networks:traefik"]["reason"]
    assert f"(services.traefik at {DEV_FILE}:7)" in failed["networks:traefik"]["reason"]
    assert "pass --map dashboard=dashboard-service" in failed["running:dashboard"]["reason"]


def test_lint_table_with_map_and_profiles() -> None:
    code, out, _ = _run(
        "lint",
        "-c",
        CONTRACT,
        "-f",
        str(DEV_FILE),
        "--map",
        "dashboard=dashboard-service",
        "--profile",
        "tunnel",
        "-q",
    )
    assert code == 1
    assert out.startswith(f"netcontract lint: {CONTRACT} (project devonboarder, {DEV_FILE})\n")
    assert "FAIL  networks:dashboard" in out and "running:dashboard" not in out
    assert (
        "FAIL  undeclared:bot" in out and "undeclared:dashboard-service" not in out
    )  # --map names it
    assert "FAIL  undeclared:cloudflare-tunnel" in out  # active through --profile tunnel
    assert "contract VIOLATED: 31 checks, 10 passed, 17 failed, 0 errors, 4 skipped" in out


def test_lint_passes_on_the_test_stack_file() -> None:
    code, out, _ = _run("lint", "-c", CONTRACT, "-f", TEST_STACK)
    assert code == 0, out
    assert (
        "contract holds: 31 checks, 31 passed" in out
    )  # with foreign:auth_tier and foreign:api_tier


def test_lint_override_file_fixes_memberships(tmp_path: Path, dev_copy: Path) -> None:
    override = dev_copy.parent / "override.yaml"
    override.write_text(
        "services:\n  db:\n    networks: [data_tier]\nnetworks:\n  data_tier:\n"
        "    name: devonboarder_data_tier\n    internal: true\n"
    )
    code, out, _ = _run(
        "lint", "-c", CONTRACT, "-f", str(dev_copy), "-f", str(override), "--format", "json"
    )
    results = {r["id"]: r["verdict"] for r in json.loads(out)["results"]}
    assert results["network:data_tier"] == "PASS"
    assert results["networks:db"] == "FAIL"  # the list merges: db is on both networks now
    assert code == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-f", "nope.yaml"], 3, "netcontract: nope.yaml: no such file"),
        (["-f", str(DEV_FILE), "--project", "Bad.Name"], 3, "invalid project name 'Bad.Name'"),
        (
            ["-f", str(DEV_FILE), "--map", "nonsense"],
            2,
            "expected CONTRACT_SERVICE=COMPOSE_SERVICE",
        ),
        (
            ["-f", str(DEV_FILE), "--map", "dashbord=dashboard-service"],
            2,
            "--map dashbord=dashboard-service: the contract has no service 'dashbord' (did you mean 'dashboard'?)",
        ),
    ],
)
def test_lint_errors(args: list[str], code: int, message: str) -> None:
    got, out, err = _run("lint", "-c", CONTRACT, *args)
    assert got == code
    assert message in err and out == ""


def test_lint_unreadable_compose_is_one_line_exit_3(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("services:\n  s:\n    extends: {service: t}\n")
    code, _, err = _run("lint", "-c", CONTRACT, "-f", str(bad))
    assert code == 3 and err.count("\n") == 1 and "extends" in err


def test_lint_invalid_contract_exits_4(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n")
    code, _, err = _run("lint", "-c", str(bad), "-f", str(DEV_FILE))
    assert code == 4 and "unsupported version" in err


# -- init ----------------------------------------------------------------------------


def test_init_from_compose_round_trips_through_lint(tmp_path: Path) -> None:
    code, out, _ = _run("init", "--from-compose", str(DEV_FILE))
    assert code == 0
    assert out.startswith(
        f"# Draft network contract written by `netcontract init --from-compose {DEV_FILE}`."
    )
    draft = tmp_path / "draft.yaml"
    draft.write_text(out)
    code, out, _ = _run("lint", "-c", str(draft), "-f", str(DEV_FILE))
    assert code == 0, out


def test_init_output_file_and_force(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    code, out, err = _run("init", "--from-compose", TEST_STACK, "-o", str(target))
    assert code == 0 and out == "" and "review the lines marked 'guessed'" in err
    first = target.read_text()
    assert "data_tier:\n    network: devonboarder_data_tier\n    internal: true" in first
    code, _, err = _run("init", "--from-compose", TEST_STACK, "-o", str(target))
    assert code == 2 and "exists: pass --force" in err
    target.write_text("mine")
    code, _, _ = _run("init", "--from-compose", TEST_STACK, "-o", str(target), "--force")
    assert code == 0 and target.read_text() == first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --from-compose FILE and --from-live"),
        (["--from-compose", "x.yaml", "--from-live"], "give exactly one of"),
        (["--from-live", "-f", "x.yaml"], "-f, --profile and --env-file go with --from-compose"),
    ],
)
def test_init_usage_errors(args: list[str], message: str) -> None:
    code, _, err = _run("init", *args)
    assert code == 2 and message in err


def test_init_unreadable_compose_exits_3() -> None:
    code, _, err = _run("init", "--from-compose", "nope.yaml")
    assert code == 3 and "no such file" in err


# -- scaffold --------------------------------------------------------------------------


def test_scaffold_dry_run_writes_nothing(dev_copy: Path) -> None:
    before = dev_copy.read_bytes()
    code, out, err = _run(
        "scaffold",
        "-c",
        CONTRACT,
        "-f",
        str(dev_copy),
        "--map",
        "dashboard=dashboard-service",
        "--dry-run",
    )
    assert code == 0
    assert out.startswith(f"--- {dev_copy} (now)\n+++ {dev_copy} (scaffolded)\n")
    assert "-      - devonboarder_network\n+      - auth_tier\n+      - api_tier\n" in out
    assert "note: bot is not in the contract" in err
    assert dev_copy.read_bytes() == before and sorted(
        p.name for p in dev_copy.parent.iterdir()
    ) == [dev_copy.name]


def test_scaffold_lint_restore(dev_copy: Path) -> None:
    before = dev_copy.read_bytes()
    code, _, err = _run(
        "scaffold",
        "-c",
        CONTRACT,
        "-f",
        str(dev_copy),
        "--map",
        "dashboard=dashboard-service",
        "--unpublish",
    )
    assert code == 0 and "scaffolded" in err and "undo with --restore" in err
    code, out, _ = _run(
        "lint",
        "-c",
        CONTRACT,
        "-f",
        str(dev_copy),
        "--map",
        "dashboard=dashboard-service",
        "--format",
        "json",
    )
    # bot stays on the old flat network and is no contract service: the one thing left to describe
    assert code == 1 and [
        r["id"] for r in json.loads(out)["results"] if r["verdict"] != "PASS"
    ] == ["undeclared:bot"]
    code, _, err = _run(
        "scaffold",
        "-c",
        CONTRACT,
        "-f",
        str(dev_copy),
        "--map",
        "dashboard=dashboard-service",
        "--unpublish",
    )
    assert code == 0 and "nothing to change" in err
    code, _, err = _run("scaffold", "-f", str(dev_copy), "--restore")
    assert code == 0 and "restored" in err
    assert dev_copy.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-c", CONTRACT], 3, "contract service 'dashboard' has no service 'dashboard' here"),
        (["--restore"], 3, "nothing to restore"),
        ([], 2, "scaffold needs -c CONTRACT (or --restore)"),
        (["--restore", "--dry-run"], 2, "--restore takes only -f FILE"),
    ],
)
def test_scaffold_errors(dev_copy: Path, args: list[str], code: int, message: str) -> None:
    before = dev_copy.read_bytes()
    got, _, err = _run("scaffold", "-f", str(dev_copy), *args)
    assert got == code and message in err
    assert dev_copy.read_bytes() == before


def test_scaffold_invalid_contract_exits_4(dev_copy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntiers: {}\nservices: {}\nextra: 1\n")
    code, _, err = _run("scaffold", "-c", str(bad), "-f", str(dev_copy))
    assert code == 4 and "extra: unknown key" in err


def test_lint_what_a_file_cannot_decide_is_skipped_never_passed(tmp_path: Path) -> None:
    contract = tmp_path / "c.yaml"
    contract.write_text(
        "version: 1\nproject: shop\ntiers:\n  front: {network: shop_front}\n  back: {network: shop_back, internal: true}\n"
        "services:\n  web: {tiers: [front]}\n  db: {tiers: [back]}\n"
    )
    d = tmp_path / "elsewhere"
    d.mkdir()
    compose = d / "compose.yaml"
    compose.write_text(
        "services:\n  web:\n    networks: [front]\n    ports: ['8080:80']\n"
        "networks:\n  front: {external: true, name: shop_front}\n"
    )
    code, out, _ = _run("lint", "-c", str(contract), "-f", str(compose), "--format", "json")
    results = {r["id"]: r for r in json.loads(out)["results"]}
    assert code == 1
    assert (
        results["project"]["verdict"] == "FAIL"
    )  # compose would call it "elsewhere": check finds nothing
    assert "set `name: shop`" in results["project"]["reason"]
    assert results["network:front"]["verdict"] == "SKIP"  # external: its flags live on the engine
    assert results["running:db"]["verdict"] == "FAIL"
    assert results["exposure:db"]["verdict"] == "SKIP"  # db is not declared: nothing to pass
    assert results["networks:web"]["verdict"] == "PASS"


def test_init_from_live_without_an_engine_exits_3(tmp_path: Path) -> None:
    result = CliRunner(env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"}).invoke(
        main, ["init", "--from-live", "--project", "x"], catch_exceptions=False
    )
    assert result.exit_code == 3
    assert (
        result.stderr.startswith("netcontract: cannot reach the Docker engine")
        and result.stdout == ""
    )


def test_lint_finds_the_compose_files_as_compose_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "devonboarder"
    (project / "sub").mkdir(parents=True)
    monkeypatch.chdir(project / "sub")
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    code, _, err = _run("lint", "-c", CONTRACT)
    assert code == 3 and "no compose file: pass -f, or set COMPOSE_FILE" in err
    shutil.copyfile(DEV_FILE, project / "docker-compose.yml")
    (project / "docker-compose.override.yml").write_text("services:\n  db:\n    expose: ['5433']\n")
    code, out, _ = _run("lint", "-c", CONTRACT, "--format", "json")
    report = json.loads(out)
    assert (
        report["source"]
        == f"{project / 'docker-compose.yml'}, {project / 'docker-compose.override.yml'}"
    )
    assert code == 1
    monkeypatch.setenv("COMPOSE_FILE", str(DEV_FILE))
    code, out, _ = _run("lint", "-c", CONTRACT, "--format", "json")
    assert json.loads(out)["source"] == str(DEV_FILE)
