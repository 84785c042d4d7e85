"""`live.checker.check` with a fake engine injected through `engine_factory`: project, readiness,
notes, and the engine closed whatever happens (tests/unit/fake_engine.py; no daemon)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_engine import (
    CONTRACT,
    FakeEngine,
    FakeProber,
    devonboarder,
    dual_stack_raw,
    recorded_raw,
    recorded_state,
    state_from_raw,
    v6,
)

from netcontract.errors import EngineError, NoProjectError, NotReadyError
from netcontract.live import checker
from netcontract.live import runner as runner_module
from netcontract.live.checker import CheckOptions, check, resolve_project, wait_until_ready
from netcontract.live.interface import LiveEngine
from netcontract.live.runner import ExecutorMode, RunOptions
from netcontract.results import ExitCode, Kind, Verdict
from netcontract.state import State

EXEC = RunOptions(mode=ExecutorMode.EXEC)
NETWORKS = ("devonboarder_auth_tier", "devonboarder_api_tier", "devonboarder_data_tier")


class Factory:
    """engine_factory: hands out one FakeEngine and remembers the options it was called with."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.options: list[CheckOptions] = []

    def __call__(self, options: CheckOptions) -> LiveEngine:
        self.options.append(options)
        return self.engine


class Clock:
    """Stands in for the checker's `time` module: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(recorded_state())


@pytest.fixture
def factory(engine: FakeEngine) -> Factory:
    return Factory(engine)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(checker, "time", c)
    return c


def without_project(tmp_path: Path) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(CONTRACT.read_text().replace("project: devonboarder\n", ""))
    return path


def with_state(raw_edit: Any) -> State:
    raw = recorded_raw()
    raw_edit(raw)
    return state_from_raw(raw)


def service(raw: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in raw["containers"] if c["Config"]["Labels"]["com.docker.compose.service"] == name
    )
    return found


# -- the whole check ---------------------------------------------------------------------------


def test_check_reports_structure_and_probes_of_the_recorded_stack(factory: Factory) -> None:
    options = CheckOptions(run=EXEC)
    report = check(CONTRACT, options, engine_factory=factory)
    engine = factory.engine
    assert factory.options == [options]
    assert engine.snapshots == [("devonboarder", NETWORKS)]
    assert (
        report.project == "devonboarder"
        and report.source == "live"
        and report.contract == str(CONTRACT)
    )
    assert report.exit_code is ExitCode.OK and report.notes == () and report.duration >= 0
    kinds = {r.kind for r in report.results}
    assert {Kind.NETWORK, Kind.REACH, Kind.ISOLATION, Kind.DNS} <= kinds
    assert {
        r.executor for r in report.results if r.kind in (Kind.REACH, Kind.ISOLATION, Kind.DNS)
    } == {"exec"}
    assert (
        engine.calls["exec"] == 7 and engine.calls["close"] == 1 and engine.calls["remove_run"] == 1
    )


def test_check_passes_progress_to_the_runner(factory: Factory) -> None:
    seen: list[tuple[int, int]] = []
    check(
        CONTRACT,
        CheckOptions(run=EXEC),
        lambda done, total: seen.append((done, total)),
        engine_factory=factory,
    )
    assert seen[-1] == (7, 7)


def test_check_uses_the_runner_notes(factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    prober = FakeProber(
        factory.engine.world, default_problem="netns needs root (this process is uid 1000)"
    )
    monkeypatch.setattr(runner_module, "HostNamespaces", lambda: prober)
    report = check(CONTRACT, CheckOptions(), engine_factory=factory)  # --executor auto
    (note,) = report.notes
    assert note.startswith("auto: netns not possible (netns needs root (this process is uid 1000))")
    assert factory.engine.calls["exec"] == 7 and report.exit_code is ExitCode.OK


def test_check_with_netns_reports_the_windows(
    factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prober = FakeProber(factory.engine.world)
    monkeypatch.setattr(runner_module, "HostNamespaces", lambda: prober)
    report = check(CONTRACT, CheckOptions(), engine_factory=factory)
    assert len(report.notes) == 1 and report.notes[0].startswith(
        "netns: timeouts judged on windows"
    )
    assert factory.engine.calls["exec"] == 0 and prober.runs[0].window == pytest.approx(0.1)
    assert len(prober.runs[0].sources) == 7


def test_no_probes_is_structure_only_and_says_so(factory: Factory) -> None:
    report = check(CONTRACT, CheckOptions(probes=False, run=EXEC), engine_factory=factory)
    assert report.notes == (
        "probes skipped (--no-probes): reachability, isolation and DNS were not tested",
    )
    assert not {r.kind for r in report.results} & {Kind.REACH, Kind.ISOLATION, Kind.DNS}
    assert factory.engine.calls["exec"] == 0 and factory.engine.calls["remove_run"] == 0
    assert factory.engine.calls["close"] == 1 and report.exit_code is ExitCode.OK


@pytest.mark.parametrize("probes", [True, False])
def test_nothing_of_the_project_says_is_the_stack_up(engine: FakeEngine, probes: bool) -> None:
    engine.states = [State(project="devonboarder", networks=(), containers=())]
    report = check(CONTRACT, CheckOptions(probes=probes, run=EXEC), engine_factory=Factory(engine))
    assert "nothing of project devonboarder exists on this engine: is the stack up?" in report.notes
    assert report.exit_code is ExitCode.VIOLATED and engine.calls["exec"] == 0
    if probes:  # every source is settled as "no running container"
        probes_results = [r for r in report.results if r.kind is Kind.PROBES]
        assert len(probes_results) == 7 and {r.verdict for r in probes_results} == {Verdict.SKIP}


def test_containers_of_another_project_on_the_tier_networks_are_not_the_project(
    engine: FakeEngine,
) -> None:
    state = recorded_state()
    engine.states = [State(project="other", networks=(), containers=state.containers)]
    report = check(
        CONTRACT, CheckOptions(project="other", probes=False), engine_factory=Factory(engine)
    )
    assert engine.snapshots[0][0] == "other" and report.project == "other"
    assert "nothing of project other exists on this engine: is the stack up?" in report.notes


# -- the project --------------------------------------------------------------------------------


def test_no_project_anywhere_is_a_usage_error_before_any_engine(
    tmp_path: Path, factory: Factory
) -> None:
    with pytest.raises(NoProjectError, match="set `project:` in the contract or pass --project"):
        check(without_project(tmp_path), CheckOptions(run=EXEC), engine_factory=factory)
    assert factory.options == [] and factory.engine.calls["close"] == 0


def test_the_project_option_names_the_project(tmp_path: Path, factory: Factory) -> None:
    report = check(
        without_project(tmp_path),
        CheckOptions(project="devonboarder", probes=False),
        engine_factory=factory,
    )
    assert report.project == "devonboarder" and factory.engine.snapshots[0][0] == "devonboarder"


def test_resolve_project_prefers_the_option() -> None:
    contract = devonboarder()
    assert resolve_project(contract, None) == "devonboarder"
    assert resolve_project(contract, "staging") == "staging"


# -- waiting for the stack --------------------------------------------------------------------


def test_wait_returns_the_first_ready_snapshot(engine: FakeEngine, clock: Clock) -> None:
    def db_starting(raw: dict[str, Any]) -> None:
        service(raw, "db")["State"]["Status"] = "restarting"

    def backend_unhealthy(raw: dict[str, Any]) -> None:
        service(raw, "backend")["State"]["Health"]["Status"] = "starting"

    ready = recorded_state()
    engine.states = [with_state(db_starting), with_state(backend_unhealthy), ready]
    assert wait_until_ready(engine, devonboarder(), "devonboarder", 5) is ready
    assert engine.calls["snapshot"] == 3 and clock.slept == [0.5, 0.5]


def test_not_ready_in_time_names_the_services_and_the_project(
    engine: FakeEngine, clock: Clock
) -> None:
    def db_exited(raw: dict[str, Any]) -> None:
        service(raw, "db")["State"]["Status"] = "exited"
        raw["containers"].remove(service(raw, "frontend"))

    engine.states = [with_state(db_exited)]
    with pytest.raises(NotReadyError) as caught:
        wait_until_ready(engine, devonboarder(), "devonboarder", 2)
    assert str(caught.value) == (
        "stack not ready after 2s: frontend, db not running and healthy (project devonboarder)"
    )
    assert engine.calls["snapshot"] == 5 and sum(clock.slept) == 2.0


def test_a_service_that_need_not_be_healthy_is_ready_unhealthy(
    tmp_path: Path, engine: FakeEngine, clock: Clock
) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(
        CONTRACT.read_text().replace(
            "    ports: [8001]\n", "    ports: [8001]\n    healthy: false\n"
        )
    )

    def backend_unhealthy(raw: dict[str, Any]) -> None:
        service(raw, "backend")["State"]["Health"]["Status"] = "unhealthy"

    engine.states = [with_state(backend_unhealthy)]
    report = check(path, CheckOptions(wait=3, probes=False), engine_factory=Factory(engine))
    assert engine.calls["snapshot"] == 1 and clock.slept == []
    assert report.project == "devonboarder"


def test_check_waits_then_probes(engine: FakeEngine, clock: Clock) -> None:
    def db_starting(raw: dict[str, Any]) -> None:
        service(raw, "db")["State"]["Health"]["Status"] = "starting"

    engine.states = [with_state(db_starting), recorded_state()]
    report = check(CONTRACT, CheckOptions(wait=10, run=EXEC), engine_factory=Factory(engine))
    assert (
        report.exit_code is ExitCode.OK
        and engine.calls["snapshot"] == 2
        and engine.calls["exec"] == 7
    )


# -- the engine is always closed ------------------------------------------------------------------


def test_engine_closed_when_not_ready(engine: FakeEngine, clock: Clock) -> None:
    engine.states = [with_state(lambda raw: service(raw, "db")["State"].update(Status="exited"))]
    with pytest.raises(NotReadyError, match="db not running and healthy"):
        check(CONTRACT, CheckOptions(wait=1, run=EXEC), engine_factory=Factory(engine))
    assert engine.calls["close"] == 1 and engine.calls["exec"] == 0


def test_engine_closed_when_the_snapshot_fails(engine: FakeEngine) -> None:
    engine.snapshot_error = EngineError(
        "cannot reach the Docker engine (unix:///var/run/docker.sock): refused"
    )
    with pytest.raises(EngineError):
        check(CONTRACT, CheckOptions(run=EXEC), engine_factory=Factory(engine))
    assert engine.calls["close"] == 1


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_engine_closed_and_run_cleaned_when_probing_fails(
    engine: FakeEngine, exc: BaseException
) -> None:
    def fail(cid: str, argv: list[str]) -> None:
        raise exc

    engine.on_exec = fail
    with pytest.raises(type(exc)):
        check(CONTRACT, CheckOptions(run=EXEC), engine_factory=Factory(engine))
    assert engine.calls["close"] == 1 and engine.calls["remove_run"] >= 1


def test_connect_builds_the_docker_engine_with_the_api_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from netcontract.live.docker import engine as docker_engine

    asked: list[float] = []
    reader = object()

    def fake_connect_read(timeout: float = 30) -> object:
        asked.append(timeout)
        return reader

    monkeypatch.setattr(docker_engine, "connect_read", fake_connect_read)
    got = checker.connect(CheckOptions(run=RunOptions(timeout=10)))
    assert isinstance(got, docker_engine.Engine)
    assert got.read is reader and got.timeout == 50.0 and asked == [50.0]  # max(30, 4 x 10 + 10)


# -- IPv6 -----------------------------------------------------------------------------------------------


def test_the_report_says_the_engine_filters_ipv6() -> None:
    engine = FakeEngine(state_from_raw(dual_stack_raw()))
    report = check(CONTRACT, CheckOptions(run=EXEC), engine_factory=Factory(engine))
    v6 = [r for r in report.results if r.kind is Kind.ISOLATION and r.id.endswith("/ipv6")]
    assert v6 and report.exit_code is ExitCode.OK
    assert (
        f"IPv6: {len(v6)} of {len(v6)} forbidden IPv6 paths probed and blocked (the engine filters IPv6)"
        in report.notes
    )


def test_the_report_says_when_ipv6_crosses_networks() -> None:
    state = state_from_raw(dual_stack_raw())
    engine = FakeEngine(state)
    frontend = next(c for c in state.containers if c.service == "frontend")
    engine.world.open(v6("192.168.32.2"), 5432, src=frontend.id)  # db's IPv6 address, ip6tables off
    report = check(CONTRACT, CheckOptions(run=EXEC), engine_factory=Factory(engine))
    v6_paths = [r for r in report.results if r.kind is Kind.ISOLATION and r.id.endswith("/ipv6")]
    assert report.exit_code is ExitCode.VIOLATED
    assert (
        f"IPv6: 1 of {len(v6_paths)} IPv6 paths the contract forbids connect; where IPv4 on the same path is "
        "dropped, the engine does not filter IPv6 between networks (ip6tables off)"
    ) in report.notes


def test_a_non_default_gateway_mode_is_shown_in_a_note() -> None:
    from netcontract.contract import contract_from_data
    from netcontract.notes import gateway_mode_notes
    from netcontract.state import Network, State

    contract = contract_from_data(
        {
            "version": 1,
            "tiers": {"t": {"network": "n"}, "u": {"network": "m"}},
            "services": {"a": {"tiers": ["t"]}},
        }
    )
    state = State(
        "p",
        (
            Network(
                "n",
                "bridge",
                False,
                options=(("com.docker.network.bridge.gateway_mode_ipv4", "routed"),),
            ),
            Network(
                "m",
                "bridge",
                False,
                options=(("com.docker.network.bridge.gateway_mode_ipv4", "nat"),),
            ),
        ),
        (),
    )
    assert gateway_mode_notes(contract, state) == [
        "n (tier t): com.docker.network.bridge.gateway_mode_ipv4=routed"
    ]
