"""Compose files read as `docker compose` reads them: interpolation, merges, profiles, names,
networks, aliases, ports. No daemon; one test cross-checks against `docker-compose config`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netcontract.compose.interpolation import Interpolator, parse_dotenv
from netcontract.compose.loader import load_project
from netcontract.compose.ports import parse_expose, parse_ports
from netcontract.compose.project import ComposeOptions, ComposeProject, to_state
from netcontract.compose.reader import normalize_project_name, parse_compose_text
from netcontract.errors import ComposeError, InterpolationError
from netcontract.state import PublishedPort

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEV_FILE = ASSETS / "devonboarder" / "docker-compose.dev.yaml"


def _write(directory: Path, name: str, text: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _load(*files: str, environ: dict[str, str] | None = None, **kw: object) -> ComposeProject:
    return load_project(ComposeOptions(files=tuple(files), environ=environ or {}, **kw))  # type: ignore[arg-type]


# -- interpolation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "a"),
        ("$A-x", "a-x"),
        ("${UNSET}", ""),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${UNSET-dflt}", "dflt"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${A:?must}", "a"),
        ("${UNSET:-${B:-deep}}", "b"),
        ("${UNSET:-${NOPE:-deep}}", "deep"),
        ("$$A", "$A"),
        ("$${A}", "${A}"),
        ("${UNSET-$$x}", "$x"),
        ("a$ b", "a$ b"),
        ("$(x)", "$(x)"),
        ("x$", "x$"),
        ("no dollars", "no dollars"),
    ],
)
def test_interpolation_matches_compose(text: str, expected: str) -> None:
    assert Interpolator({"A": "a", "B": "b", "EMPTY": ""}).text(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("${A/x/y}", "invalid interpolation"),
        ("${A:0:2}", "invalid interpolation"),
        ("${}", "invalid interpolation"),
        ("${A", "unclosed"),
        ("${UNSET:?need it}", "required variable UNSET is missing a value: need it"),
        ("${EMPTY:?}", "required variable EMPTY is missing a value"),
        ("${UNSET?}", "required variable UNSET"),
    ],
)
def test_interpolation_refuses_what_compose_refuses(text: str, problem: str) -> None:
    with pytest.raises(InterpolationError, match=problem.replace("?", r"\?")):
        Interpolator({"A": "a", "EMPTY": ""}).text(text)


def test_interpolation_remembers_unset_variables() -> None:
    interp = Interpolator({})
    interp.text("${X} ${Y:-d} $Z")
    assert interp.unset == {"X", "Z"}


def test_dotenv_parsing() -> None:
    text = (
        "# comment\n\nexport A=1\nB = two words # trailing comment\nC='single $A'\n"
        'D="double ${A}\\n"\nE=${A}x\nF="multi\nline"\nBARE\n'
    )
    assert parse_dotenv(text, {}) == {
        "A": "1",
        "B": "two words",
        "C": "single $A",
        "D": "double 1\n",
        "E": "1x",
        "F": "multi\nline",
    }


def test_dotenv_line_errors_name_the_line() -> None:
    with pytest.raises(InterpolationError, match="line 2"):
        parse_dotenv("A=1\n=nokey\n", {})


def test_env_file_beside_the_first_file_and_process_env_precedence(tmp_path: Path) -> None:
    base = _write(
        tmp_path / "proj",
        "compose.yaml",
        "services:\n  s:\n    image: ${X}-${Y}-${Z}\n    container_name: n-${X}\n",
    )
    _write(tmp_path / "proj", ".env", "X=dotenv\nY=dotenv\n")
    other = _write(tmp_path, "other.env", "Y=ef\nZ=ef\n")

    def names(p: ComposeProject) -> str:
        return to_state(p).containers[0].name

    assert names(_load(base)) == "n-dotenv"
    # --env-file replaces .env (as compose does); the process environment wins over both
    p = _load(base, env_files=(other,), environ={"X": "proc"})
    assert names(p) == "n-proc"
    assert p.notes == ()
    p = _load(base, env_files=(other,))
    assert names(p) == "n-"
    assert p.notes == ("variable X is not set: compose substitutes an empty string",)


# -- YAML as compose reads it -----------------------------------------------------


def test_yaml_12_scalars_stay_strings() -> None:
    data, lines = parse_compose_text(
        "services:\n  s:\n    ports: [22:22, 0755]\n    tty: yes\n", "f.yaml"
    )
    assert data["services"]["s"] == {"ports": ["22:22", 755], "tty": "yes"}
    assert lines == {"s": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  s: {}\n  s: {}\n", "f.yaml: line 3: malformed YAML: duplicate key 's'"),
        (
            "services:\n  s:\n    networks: !reset []\n",
            "YAML tag !reset is not read by netcontract",
        ),
        ("services: [\n", "malformed YAML"),
        ("- a\n", "a compose file is a YAML mapping"),
    ],
)
def test_yaml_problems_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ComposeError, match=message.replace("[", r"\[")) as exc:
        parse_compose_text(text, "f.yaml")
    assert "\n" not in str(exc.value)


def test_merge_keys_are_allowed_to_be_overridden(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "p",
        "c.yaml",
        "x: &x\n  expose: ['1']\n  image: a\nservices:\n  s:\n    <<: *x\n    image: b\n",
    )
    assert _load(f).services[0].expose == (1,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  s:\n    extends: {service: t}\n",
            "services.s.extends: netcontract does not read `extends`",
        ),
        (
            "include: [other.yaml]\nservices: {}\n",
            "include: netcontract does not read included files",
        ),
        ("services:\n  s:\n    image: ${A/x/y}\n", "services.s.image: invalid interpolation"),
        (
            "services:\n  s:\n    networks: [nope]\n",
            "services.s.networks: refers to undefined network 'nope'",
        ),
        (
            "services:\n  s:\n    network_mode: host\n    networks: [default]\n",
            "both network_mode and networks",
        ),
        ("services:\n  s:\n    ports: ['a:b']\n", "services.s.ports[0]: cannot read port 'a:b'"),
        ("services:\n  s:\n    expose: ['x']\n", "services.s.expose[0]: cannot read port 'x'"),
        (
            "services:\n  s: {}\nnetworks:\n  n:\n    internal: maybe\n",
            "networks.n.internal: expected true or false",
        ),
        ("", "empty compose file"),
        ("services:\n", "services must be a mapping"),
        ("services: []\n", "services must be a mapping"),
        ("name: '!!!'\nservices: {}\n", "leaves an empty project name"),
        ("services: {}\n---\nservices: {}\n", "expected a single document"),
    ],
)
def test_what_compose_would_not_read_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    f = _write(tmp_path / "p", "c.yaml", text)
    with pytest.raises(
        ComposeError, match=message.replace("(", r"\(").replace("[", r"\[").replace("$", r"\$")
    ) as exc:
        _load(f)
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="no such file"):
        _load(str(tmp_path / "nope.yaml"))


# -- merges, profiles, names --------------------------------------------------------

BASE = """\
services:
  web:
    image: x
    command: [a]
    networks: [n1, n2]
    ports: ["8080:80", "443"]
    expose: [80]
  db:
    image: y
    networks:
      n1:
        aliases: [dba]
  off:
    image: z
    profiles: [p]
  plain:
    image: z
  hosty:
    image: z
    network_mode: host
networks:
  n1: {}
  n2:
    name: custom_n2
    internal: true
  unused: {}
"""
OVERRIDE = """\
services:
  web:
    command: [b]
    networks:
      n1:
        aliases: [w]
      n3: {}
    ports:
      - target: 80
        published: "8080"
      - "9000:90"
    expose: ["81", 80]
  db:
    networks: [n2]
networks:
  n3:
    external: true
    name: ext_net
"""


def test_merge_of_two_files(tmp_path: Path) -> None:
    d = tmp_path / "My-Proj.1"
    p = _load(_write(d, "a.yaml", BASE), _write(d, "b.yaml", OVERRIDE))
    assert p.name == "my-proj1"
    web = p.service("web")
    assert web is not None and web.where.startswith(str(d / "a.yaml") + ":2 (also")
    assert [(n.key, n.aliases) for n in web.networks] == [("n1", ("w",)), ("n2", ()), ("n3", ())]
    assert web.published == (
        PublishedPort(80, "tcp", "", "8080"),
        PublishedPort(443, "tcp", "", ""),
        PublishedPort(90, "tcp", "", "9000"),
    )
    assert web.expose == (80, 81, 443, 90)
    db = p.service("db")
    assert db is not None and [(n.key, n.aliases) for n in db.networks] == [
        ("n1", ("dba",)),
        ("n2", ()),
    ]
    assert [n.name for n in p.used_networks()] == [
        "my-proj1_n1",
        "custom_n2",
        "ext_net",
        "my-proj1_default",
    ]
    assert p.networks["n3"].external and p.networks["n2"].internal


def test_state_from_merged_files(tmp_path: Path) -> None:
    d = tmp_path / "proj"
    state = to_state(
        _load(_write(d, "a.yaml", BASE), _write(d, "b.yaml", OVERRIDE)), {"web": "frontend"}
    )
    assert not state.live and state.project == "proj" and state.source.endswith("b.yaml")
    assert [c.service for c in state.containers] == [
        "frontend",
        "db",
        "plain",
        "hosty",
    ]  # `off` is inactive
    web = state.containers[0]
    assert web.name == "proj-web-1" and web.status == "declared" and web.origin.endswith("a.yaml")
    assert web.endpoint("proj_n1").aliases == ("proj-web-1", "web", "w")  # type: ignore[union-attr]
    hosty = state.containers[3]
    assert hosty.endpoints == () and hosty.network_mode == "host"
    assert state.containers[2].networks == ("proj_default",)
    assert {n.name for n in state.networks} == {"proj_n1", "custom_n2", "ext_net", "proj_default"}
    assert state.network("custom_n2").internal  # type: ignore[union-attr]


def test_profiles(tmp_path: Path) -> None:
    f = _write(tmp_path / "p", "c.yaml", BASE)
    assert not _load(f).service("off").active  # type: ignore[union-attr]
    assert _load(f, profiles=("p",)).service("off").active  # type: ignore[union-attr]
    assert _load(f, profiles=("*",)).service("off").active  # type: ignore[union-attr]
    assert _load(f, environ={"COMPOSE_PROFILES": "x,p"}).service("off").active  # type: ignore[union-attr]


def test_project_name_precedence(tmp_path: Path) -> None:
    d = tmp_path / "Dir_Name"
    a = _write(d, "a.yaml", "name: ${N:-From.Name}\nservices: {}\n")
    b = _write(d, "b.yaml", "name: later\n")
    plain = _write(d, "p.yaml", "services: {}\n")
    assert _load(plain).name == "dir_name"
    assert _load(a).name == "fromname"
    assert _load(a, b).name == "later"
    assert _load(a, environ={"COMPOSE_PROJECT_NAME": "envname"}).name == "envname"
    assert _load(a, project="flag").name == "flag"
    with pytest.raises(
        ComposeError, match=re.escape("invalid project name 'Bad.Name' from --project")
    ):
        _load(a, project="Bad.Name")


@pytest.mark.parametrize(
    ("raw", "name"), [("My-Proj.1", "my-proj1"), ("__x", "x"), ("DevOnboarder", "devonboarder")]
)
def test_normalize_project_name(raw: str, name: str) -> None:
    assert normalize_project_name(raw) == name


# -- ports ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "ports"),
    [
        ("3000", [PublishedPort(3000)]),
        (3000, [PublishedPort(3000)]),
        ("8000:8000", [PublishedPort(8000, host_port="8000")]),
        ("127.0.0.1:8001:8001", [PublishedPort(8001, host_ip="127.0.0.1", host_port="8001")]),
        ("127.0.0.1::80", [PublishedPort(80, host_ip="127.0.0.1")]),
        ("[::1]:6001:6001", [PublishedPort(6001, host_ip="::1", host_port="6001")]),
        ("::1:6000:6000", [PublishedPort(6000, host_ip="::1", host_port="6000")]),
        ("6060:6060/udp", [PublishedPort(6060, "udp", host_port="6060")]),
        (
            "9090-9091:8080-8081",
            [PublishedPort(8080, host_port="9090"), PublishedPort(8081, host_port="9091")],
        ),
        ("3000-3001", [PublishedPort(3000), PublishedPort(3001)]),
        ("8000-8010:80", [PublishedPort(80, host_port="8000-8010")]),
        (
            {"target": 80, "published": 8080, "host_ip": "0.0.0.0"},
            [PublishedPort(80, host_ip="0.0.0.0", host_port="8080")],
        ),
        ({"target": 53, "protocol": "udp"}, [PublishedPort(53, "udp")]),
    ],
)
def test_ports_short_and_long(item: object, ports: list[PublishedPort]) -> None:
    assert list(parse_ports([item], "ports", "f")) == ports


@pytest.mark.parametrize("item", ["a", "1-2:3-5", "70000", {"published": 80}, True, "0"])
def test_unreadable_ports(item: object) -> None:
    with pytest.raises(ComposeError):
        parse_ports([item], "ports", "f")


def test_expose_is_not_published_and_keeps_tcp_only() -> None:
    assert parse_expose([80, "81", "3000-3002", "53/udp", "90/tcp"], "expose", "f") == (
        80,
        81,
        3000,
        3001,
        3002,
        90,
    )


# -- the real DevOnboarder dev file ----------------------------------------------------


def test_devonboarder_dev_file() -> None:
    p = _load(str(DEV_FILE))
    assert p.name == "devonboarder"  # from the directory: the file has no top-level name
    assert [s.name for s in p.services if not s.active] == ["cloudflare-tunnel", "debug-tools"]
    state = to_state(p)
    assert len(state.containers) == 8
    assert [n.name for n in state.networks] == ["devonboarder_network"]
    db = state.service_containers("db")[0]
    assert db.name == "devonboarder-db-dev" and [str(x) for x in db.published] == ["5432->5432/tcp"]
    assert state.service_containers("dashboard-service") and not state.service_containers(
        "dashboard"
    )
    assert len(to_state(_load(str(DEV_FILE), profiles=("tunnel", "debug"))).containers) == 10


# -- the oracle: docker-compose config ---------------------------------------------------

COMPOSE_BIN = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")


@pytest.mark.skipif(not Path(COMPOSE_BIN).exists(), reason="docker-compose binary not installed")
def test_agrees_with_docker_compose_config(tmp_path: Path) -> None:
    d = tmp_path / "Oracle.Dir"
    files = [_write(d, "a.yaml", BASE), _write(d, "b.yaml", OVERRIDE)]
    _write(d, ".env", "UNUSED=1\n")
    args = [COMPOSE_BIN, *[x for f in files for x in ("-f", f)], "config", "--format", "json"]
    out = subprocess.run(
        args, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}, cwd=d
    )
    truth = json.loads(out.stdout)
    mine = _load(*files)
    assert mine.name == truth["name"]
    assert {n.name for n in mine.used_networks()} == {n["name"] for n in truth["networks"].values()}
    for svc in mine.active:
        t = truth["services"][svc.name]
        assert {n.key: list(n.aliases) for n in svc.networks} == {
            k: (v or {}).get("aliases", []) for k, v in (t.get("networks") or {}).items()
        }
        assert svc.network_mode == (t.get("network_mode") or "")
        assert sorted((p.container_port, p.host_port) for p in svc.published) == sorted(
            (p["target"], p.get("published", "")) for p in t.get("ports", [])
        )
    assert {s.name for s in mine.active} == set(truth["services"])
