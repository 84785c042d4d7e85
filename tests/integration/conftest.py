"""Live integration tests: the 7-service test stack, the CLI, and what each test leaves behind.

Every test here talks to a real Docker engine. The session brings up
docker-compose.test.yaml (project `devonboarder`) once through pytest-docker
and takes it down at the end; tests that change the stack ask the `restore`
fixture to recreate what they touched, so each one leaves the stack as it
found it.

Traffic rule: tests only send packets to containers and networks they created
(the stack, or objects made through `objects`), never to an outside address.
Everything a test creates carries the label org.netcontract.test=1 and is
removed afterwards, also when the test fails.

Without a Docker engine (`docker info` fails), every test in this directory is
skipped with the reason; with CI set, that is an error instead, since CI always
has Docker and a silently skipped suite would prove nothing.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import docker as docker_sdk
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ASSETS = REPO / "tests" / "assets"
BIN = Path(sys.executable).parent
COMPOSE = str(BIN / "docker-compose")
NETCONTRACT = str(BIN / "netcontract")
STACK_FILE = REPO / "docker-compose.test.yaml"
CONTRACT = REPO / "contracts" / "devonboarder.yaml"

PROJECT = "devonboarder"
SERVICES = (
    "traefik",
    "auth-service",
    "backend",
    "discord-integration",
    "dashboard",
    "frontend",
    "db",
)
NETWORKS = {
    "auth_tier": "devonboarder_auth_tier",
    "api_tier": "devonboarder_api_tier",
    "data_tier": "devonboarder_data_tier",
}
PROBE_IMAGE = "netcontract-test/probe:local"  # built by scripts/build-images.sh, never pulled
BUSYBOX_IMAGE = "netcontract-test/busybox:local"
TEST_LABEL = "org.netcontract.test=1"
PROBE_LABEL = "org.netcontract.probe"
SOURCE_LABEL = "org.netcontract.source"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


# -- Docker availability: skip (or, under CI, fail) the whole directory ------------------


def _docker_problem() -> str | None:
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except FileNotFoundError:
        return "the docker CLI is not installed"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"`docker info` failed: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if item.path.is_relative_to(HERE)]
    if not ours:
        return
    problem = _docker_problem()
    if problem is None:
        return
    reason = (
        f"no Docker engine: {problem}; the live integration tests need one "
        "(scripts/ensure-docker.sh installs and starts it)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise pytest.UsageError(f"CI is set but {reason}")
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


# -- small process helpers -----------------------------------------------------------------


def docker(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; raise with its stderr when `check` and it fails."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
        )
    return proc


def compose(*args: str, files: Sequence[Path] = (), timeout: float = 180) -> None:
    """Run docker-compose on the test stack (plus override `files`) under project devonboarder."""
    argv = [COMPOSE, "-f", str(STACK_FILE)]
    for f in files:
        argv += ["-f", str(f)]
    proc = subprocess.run(
        [*argv, "-p", PROJECT, *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"docker-compose {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
        )


def ids(kind: str, *filters: str) -> list[str]:
    """IDs of containers (`kind`="ps") or networks ("network") matching every filter."""
    argv = ["ps", "-aq"] if kind == "ps" else ["network", "ls", "-q"]
    for f in filters:
        argv += ["--filter", f]
    return docker(*argv).stdout.split()


# -- the netcontract CLI -------------------------------------------------------------------


class CliRun(NamedTuple):
    """One `netcontract` run: unpacks as (code, out, err); `report` parses --format json output."""

    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.out)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"stdout is not a JSON report ({exc}):\n{self}") from None
        return data

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        """Results by id (ids are unique within a report)."""
        rows = self.report["results"]
        by_id = {r["id"]: r for r in rows}
        assert len(by_id) == len(rows), "duplicate result ids in the report"
        return by_id

    def result(self, rid: str) -> dict[str, Any]:
        found = self.results.get(rid)
        assert found is not None, f"no result {rid!r} in the report; ids: {sorted(self.results)}"
        return found

    def verdicts(self, verdict: str) -> list[dict[str, Any]]:
        return [r for r in self.report["results"] if r["verdict"] == verdict]

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout (tail) ---\n{self.out[-3000:]}\n--- stderr ---\n{self.err[-3000:]}"


@dataclass
class Netcontract:
    """Runs .venv/bin/netcontract with the local probe image; `check` always adds --no-pull."""

    env: dict[str, str] = field(
        default_factory=lambda: {
            **os.environ,
            "NETCONTRACT_PROBE_IMAGE": PROBE_IMAGE,
            "NO_COLOR": "1",
        }
    )
    started: list[subprocess.Popen[str]] = field(default_factory=list)
    prefix: tuple[str, ...] = ()  # e.g. setpriv dropping CAP_SYS_ADMIN (see `cli_no_netns`)

    def argv(self, *args: str, contract: Path = CONTRACT, fmt: str = "json") -> list[str]:
        return [
            *self.prefix,
            NETCONTRACT,
            "check",
            "-c",
            str(contract),
            "--no-pull",
            "--format",
            fmt,
            *args,
        ]

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliRun:
        proc = subprocess.run(
            [*self.prefix, NETCONTRACT, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            cwd=REPO,
        )
        return CliRun(proc.returncode, proc.stdout, proc.stderr)

    def check(
        self,
        *args: str,
        contract: Path = CONTRACT,
        fmt: str = "json",
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> CliRun:
        return self.run(
            *self.argv(*args, contract=contract, fmt=fmt)[len(self.prefix) + 1 :],
            env=env,
            timeout=timeout,
        )

    def start(self, *args: str, contract: Path = CONTRACT) -> subprocess.Popen[str]:
        """A check in the background (for signals and kills); finish it with `finish`."""
        proc = subprocess.Popen(
            self.argv(*args, contract=contract),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=REPO,
        )
        self.started.append(proc)
        return proc

    @staticmethod
    def wait_for(
        proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 20
    ) -> None:
        """Return as soon as `ready()` holds (polled every 20 ms) while the background check runs."""
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(
                    f"netcontract exited ({proc.returncode}) before the awaited moment"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"the awaited moment did not come within {timeout:g} s")
            time.sleep(0.02)

    @staticmethod
    def finish(proc: subprocess.Popen[str], timeout: float = 60) -> CliRun:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(
                f"netcontract did not finish within {timeout:g} s (killed):\n{err}"
            ) from None
        return CliRun(proc.returncode, out, err)


# Root without CAP_SYS_ADMIN: the engine's socket is still usable, but no namespace can be
# entered, as for netcontract in a container or under a restricted CI runner. `auto` then
# falls back to exec and sidecars.
NO_NETNS = ("setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--")


@pytest.fixture
def cli() -> Iterator[Netcontract]:
    """The CLI; a check a test started in the background is interrupted (then killed) if still running."""
    yield from _cli(Netcontract())


@pytest.fixture
def cli_no_netns() -> Iterator[Netcontract]:
    """The CLI without CAP_SYS_ADMIN: `--executor auto` cannot use netns and falls back to exec/sidecar."""
    yield from _cli(Netcontract(prefix=NO_NETNS))


def _cli(runner: Netcontract) -> Iterator[Netcontract]:
    yield runner
    for proc in runner.started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # lets netcontract remove its sidecars
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


# -- contracts written for one test --------------------------------------------------------


@dataclass
class Contracts:
    """Copies of contracts/devonboarder.yaml, changed by a test and written to its tmp_path."""

    tmp_path: Path

    @staticmethod
    def data() -> dict[str, Any]:
        """A fresh, mutable copy of the repository contract."""
        return copy.deepcopy(_base_contract())

    def write(self, data: dict[str, Any], name: str = "contract.yaml") -> Path:
        path = self.tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def variant(
        self, change: Callable[[dict[str, Any]], None], name: str = "contract.yaml"
    ) -> Path:
        data = self.data()
        change(data)
        return self.write(data, name)


_BASE: dict[str, Any] = {}


def _base_contract() -> dict[str, Any]:
    if not _BASE:
        _BASE.update(yaml.safe_load(CONTRACT.read_text(encoding="utf-8")))
    return _BASE


@pytest.fixture
def contracts(tmp_path: Path) -> Contracts:
    return Contracts(tmp_path)


# -- images, leftovers and the stack (pytest-docker) -----------------------------------------


@pytest.fixture(scope="session")
def built_images() -> None:
    """The FROM-scratch test images; build-images.sh skips what is up to date."""
    proc = subprocess.run(
        [str(REPO / "scripts" / "build-images.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"scripts/build-images.sh exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )


def _other_projects_containers() -> set[str]:
    """Short ids of containers of other compose projects (e.g. the benchmark's ncbench*)."""
    out = docker(
        "ps",
        "-a",
        "--filter",
        f"label={PROJECT_LABEL}",
        "--format",
        f'{{{{.ID}}}} {{{{.Label "{PROJECT_LABEL}"}}}}',
    ).stdout
    return {
        line.split()[0][:12]
        for line in out.splitlines()
        if len(line.split()) == 2 and line.split()[1] != PROJECT
    }


def probe_leftovers() -> list[str]:
    """Probe sidecars present now, except those probing another compose project's containers.

    netcontract removes its sidecars before it exits, so once a test's runs have
    finished there must be none of ours: a leftover is a netcontract bug. (A
    concurrent benchmark run on its own ncbench* stacks is not ours to judge.)
    """
    out = docker(
        "ps",
        "-a",
        "--filter",
        f"label={PROBE_LABEL}",
        "--format",
        f'{{{{.ID}}}} {{{{.Names}}}} {{{{.Label "{SOURCE_LABEL}"}}}}',
    ).stdout
    others = _other_projects_containers()
    return [line for line in out.splitlines() if not set(line.split()[2:3]) & others]


def remove_test_objects() -> list[str]:
    """Remove containers and networks labelled org.netcontract.test=1 (and our probe sidecars).

    Objects of another compose project (the benchmark's ncbench* stacks, which
    carry the same label and clean up after themselves) are left alone: this
    machine may be shared. Returns what could not be removed.
    """
    stuck: list[str] = []
    others = _other_projects_containers()
    mine = {c for c in ids("ps", f"label={TEST_LABEL}") if c[:12] not in others}
    mine |= {line.split()[0] for line in probe_leftovers()}
    for cid in sorted(mine):
        if docker("rm", "-f", "-v", cid, check=False).returncode != 0:
            stuck.append(f"container {cid}")
    nets = docker(
        "network",
        "ls",
        "--filter",
        f"label={TEST_LABEL}",
        "--format",
        f'{{{{.Name}}}} {{{{.Label "{PROJECT_LABEL}"}}}}',
    ).stdout
    for line in nets.splitlines():
        name, _, project = line.partition(" ")
        if project.strip() in ("", PROJECT):
            proc = docker("network", "rm", name, check=False)
            if proc.returncode != 0:
                stuck.append(f"network {name}: {proc.stderr.strip()}")
    return stuck


@pytest.fixture(scope="session")
def leftover_guard() -> Iterator[None]:
    """Start from a clean engine; at the end remove what tests left and fail on probe leftovers."""
    remove_test_objects()  # debris of an earlier, killed session would skew every verdict
    yield
    leftovers = probe_leftovers()
    stuck = remove_test_objects()
    if stuck:
        # e.g. Docker 20.10 can keep a stale endpoint count on a network ("has active
        # endpoints" with no container attached) until dockerd restarts
        warnings.warn(f"test objects that could not be removed: {stuck}", stacklevel=1)
    assert not leftovers, f"probe sidecars left behind at the end of the session: {leftovers}"


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    return str(Path(sys.executable).parent / "docker-compose")


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(STACK_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return PROJECT


@pytest.fixture(scope="session")
def docker_setup(built_images: None, leftover_guard: None) -> list[str]:
    # depends on the images and the guard, so both come first and the guard's
    # teardown runs after pytest-docker's `down`
    return ["up -d --wait"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v --remove-orphans"]


@dataclass(frozen=True)
class Stack:
    """The running test stack. Containers are found by their compose labels, like netcontract does."""

    project: str = PROJECT
    services: tuple[str, ...] = SERVICES
    networks: dict[str, str] = field(
        default_factory=lambda: dict(NETWORKS)
    )  # tier -> Docker network
    assets: Path = ASSETS
    docker = staticmethod(docker)
    compose = staticmethod(compose)

    def container(self, service: str) -> str:
        """The name of the service's (single) container."""
        out = docker(
            "ps",
            "-a",
            "--filter",
            f"label={PROJECT_LABEL}={self.project}",
            "--filter",
            f"label={SERVICE_LABEL}={service}",
            "--format",
            "{{.Names}}",
        ).stdout.split()
        assert len(out) == 1, f"expected one container for service {service}, found {out}"
        return out[0]

    def inspect(self, service: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(docker("inspect", self.container(service)).stdout)[0]
        return data

    def container_id(self, service: str) -> str:
        cid: str = self.inspect(service)["Id"]
        return cid

    def ip(self, service: str, network: str) -> str:
        ip: str = self.inspect(service)["NetworkSettings"]["Networks"][network]["IPAddress"]
        assert ip, f"{service} has no address on {network}"
        return ip

    def unhealthy(self) -> list[str]:
        """Services without exactly one running, healthy container."""
        bad = []
        for service in self.services:
            out = docker(
                "ps",
                "-a",
                "--filter",
                f"label={PROJECT_LABEL}={self.project}",
                "--filter",
                f"label={SERVICE_LABEL}={service}",
                "--format",
                "{{.State}} {{.Status}}",
            ).stdout.splitlines()
            if len(out) != 1 or not out[0].startswith("running") or "(healthy)" not in out[0]:
                bad.append(f"{service}: {out or 'no container'}")
        return bad

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while bad := self.unhealthy():
            if time.monotonic() > deadline:
                raise AssertionError(f"test stack not healthy after {timeout:g} s: {bad}")
            time.sleep(0.5)

    def sidecars(self, service: str | None = None, *, running: bool = False) -> list[str]:
        """Probe sidecars of this stack's containers now present (of one service, only running ones)."""
        argv = ["ps", "--filter", f"label={PROBE_LABEL}=1"]
        if not running:
            argv.append("-a")
        out = docker(
            *argv, "--format", f'{{{{.ID}}}} {{{{.Label "{SOURCE_LABEL}"}}}}'
        ).stdout.splitlines()
        if service is not None:
            wanted = {self.container_id(service)[:12]}
        else:  # the stack's containers, and any that are no container of another project
            wanted = {
                line.split()[1] for line in out if len(line.split()) == 2
            } - _other_projects_containers()
        return [
            line.split()[0] for line in out if len(line.split()) == 2 and line.split()[1] in wanted
        ]

    def sidecar_sources(self, since: float, until: float) -> set[str]:
        """Services that probe sidecars were created for between `since` and `until` (unix time).

        Ask soon: the engine keeps only its last 256 events, and the ids are today's containers'.
        """
        out = docker(
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{until:.3f}",
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--filter",
            f"label={PROBE_LABEL}=1",
            "--format",
            f'{{{{index .Actor.Attributes "{SOURCE_LABEL}"}}}}',
        ).stdout.split()
        by_id = {self.container_id(s)[:12]: s for s in self.services}
        return {by_id.get(short, f"unknown container {short}") for short in out}

    def probe_exec_running(self, service: str) -> bool:
        """Whether a netcontract probe batch (an exec of `sh -c` ending in @@done) runs in the service."""
        api = _sdk()
        for eid in api.inspect_container(self.container_id(service)).get("ExecIDs") or []:
            try:
                ex = api.exec_inspect(eid)
            except docker_sdk.errors.NotFound:
                continue  # finished in between
            config = ex.get("ProcessConfig") or {}
            if (
                ex.get("Running")
                and config.get("entrypoint") == "sh"
                and "@@done" in " ".join(config.get("arguments") or ())
            ):
                return True
        return False


_SDK: list[Any] = []


def _sdk() -> Any:
    """The docker SDK's low-level client (for exec inspection, which the CLI lacks)."""
    if not _SDK:
        _SDK.append(docker_sdk.from_env().api)
    return _SDK[0]


@pytest.fixture(scope="session")
def stack(docker_services: Any) -> Stack:
    """The 7-service stack, up and healthy (once per session)."""
    s = Stack()
    s.wait_healthy()
    return s


@pytest.fixture
def restore(stack: Stack) -> Iterator[Callable[..., None]]:
    """Call `restore("svc", ...)` before changing those services; they are recreated afterwards.

    Recreating (not reconnecting) is what undoes any change: `docker network
    connect/disconnect`, an override file, a rename or a kill.
    """
    services: list[str] = []

    def mark(*names: str) -> None:
        services.extend(n for n in names if n not in services)

    yield mark
    if services:
        compose("up", "-d", "--force-recreate", "--wait", *services)
        stack.wait_healthy()


@dataclass
class TestObjects:
    """Containers and networks a test creates: labelled, uniquely named, always removed."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    @staticmethod
    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def network(self, name: str, *options: str) -> str:
        docker("network", "create", "--label", TEST_LABEL, *options, name)
        self.networks.append(name)
        return name

    def container(
        self,
        name: str,
        *args: str,
        image: str = BUSYBOX_IMAGE,
        options: Sequence[str] = (),
        dns: str = "127.0.0.1",
    ) -> str:
        """`docker run -d` of `image` with `args`; no DNS query may leave: the upstream resolver is 127.0.0.1,
        or `dns`, which must be a resolver of the test's own (tests/integration/test_paths_live.py's canary)."""
        self.containers.append(name)
        docker(
            "run", "-d", "--name", name, "--label", TEST_LABEL, "--dns", dns, *options, image, *args
        )
        return name

    def remove(self) -> None:
        if self.containers:
            docker("rm", "-f", "-v", *self.containers, check=False)
        for net in self.networks:
            # a stack container may still be attached (the test failed before its restore ran)
            for cid in (
                json.loads(docker("network", "inspect", net, check=False).stdout or "[{}]")[0].get(
                    "Containers", {}
                )
                or {}
            ):
                docker("network", "disconnect", "-f", net, cid, check=False)
            docker("network", "rm", net, check=False)


@pytest.fixture
def objects() -> Iterator[TestObjects]:
    made = TestObjects()
    yield made
    made.remove()


@pytest.fixture(autouse=True)
def no_probe_leftovers() -> Iterator[None]:
    """After every test: no probe sidecar of ours may remain (netcontract removes them before exiting)."""
    yield
    left = probe_leftovers()
    if left:
        docker("rm", "-f", *[line.split()[0] for line in left], check=False)
    assert not left, f"probe sidecars left behind: {left}"


# -- a check of the untouched stack, shared by tests that only read it ----------------------


@dataclass(frozen=True)
class HealthyRun:
    run: CliRun
    addresses: dict[tuple[str, str], str]  # (service, network) -> IPv4 during the run
    sidecar_sources: set[str]  # services the run probed through a sidecar


@pytest.fixture(scope="session")
def healthy_run(stack: Stack) -> HealthyRun:
    """One default check (auto executor) of the healthy stack; the tests reading it change nothing."""
    assert not stack.unhealthy()
    started = time.time()
    run = Netcontract().check("--retries", "2")  # two longer attempts for a path slow under load
    ended = time.time()
    # read now what later tests change: addresses (recreated containers) and the
    # engine's event buffer (it keeps only the last 256 events)
    sidecars = stack.sidecar_sources(started, ended)
    addresses = {
        (s, net): ep["IPAddress"]
        for s in stack.services
        for net, ep in stack.inspect(s)["NetworkSettings"]["Networks"].items()
    }
    return HealthyRun(run, addresses, sidecars)
