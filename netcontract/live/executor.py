"""What an executor is: the Protocol every way of running probes implements, and one source's run.

An executor observes the expectations of source containers and records what it saw on each
`SourceRun`; it never decides a verdict (probe/verdicts.py does). Two kinds implement it:
- `live/netns/executor.py`: sockets inside the sources' network namespaces, every source on one
  selector (its work is done when `probe` returns);
- `live/scripted.py`: a batch script per source, run with `docker exec` or in a sidecar (its work
  is left running in the pool; `probe` returns the futures to wait for).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from netcontract.contract import Contract
from netcontract.probe.observation import Observation, Outcome
from netcontract.probe.plan import Expectation, SourcePlan
from netcontract.probe.verdicts import judge_source, to_retry
from netcontract.results import Result
from netcontract.state import State


class Executor(Protocol):
    """A way of running probes: observe `runs`, record observations on each, decide nothing."""

    name: str  # what each result records as its executor: netns, exec or sidecar

    def probe(
        self, runs: Sequence[SourceRun], pool: ThreadPoolExecutor, window: float | None = None
    ) -> list[Future[SourceRun]]:
        """Observe every expectation of `runs` (the first pass, `window` None) or what the judge wants
        repeated (`SourceRun.disagreeing`) with `window` seconds. Work may be left running in `pool`: the
        caller waits for the futures returned."""
        ...

    def notes(self, runs: Sequence[SourceRun]) -> list[str]:
        """What the report should say about how these runs were observed (windows, limits)."""
        ...


@dataclass
class SourceRun:
    """One source's probing across attempts: its plan, its executor and what was observed."""

    plan: SourcePlan
    executor: Executor
    problem: str = ""  # set when no executor can run this source's probes: every result is ERROR
    auto: bool = (
        False  # exec chosen by auto: move to a sidecar when the container lacks sh or tools
    )
    obs: dict[str, list[Observation]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    windows: dict[str, float] = field(
        default_factory=dict
    )  # netns: expectation id -> its last window
    slowest: dict[str, float] = field(
        default_factory=dict
    )  # netns: slowest answer by kind of path, seconds
    ipv6_problem: str = ""  # netns: why this source's IPv6 timeouts prove nothing

    def everything(self) -> list[Expectation]:
        """Every expectation of the source (the first pass)."""
        return list(self.plan.expectations)

    def disagreeing(self) -> list[Expectation]:
        """The expectations the judge wants observed again."""
        return to_retry(self.plan.expectations, self.obs)

    def negatives(self) -> list[Expectation]:
        """Expectations with an observation that is only a timeout: the ones a window decides."""
        return [
            e
            for e in self.plan.expectations
            if any(o.outcome is Outcome.TIMEOUT for o in self.obs.get(e.id, ()))
        ]

    def pending(self) -> bool:
        """Whether a retry pass has anything to do for this source."""
        return not self.problem and bool(self.disagreeing())

    def count(self, expectations: Sequence[Expectation]) -> None:
        """One more attempt for each of `expectations` (they were just observed again)."""
        for e in expectations:
            self.attempts[e.id] = self.attempts.get(e.id, 1) + 1

    def judge(self, contract: Contract, state: State, void: Collection[str] = ()) -> list[Result]:
        """The source's results, each naming the executor that made its observations."""
        if self.ipv6_problem:
            for e in self.plan.expectations:
                if e.family == 6 and any(
                    o.outcome is Outcome.TIMEOUT for o in self.obs.get(e.id, ())
                ):
                    self.obs[e.id] = [
                        Observation(Outcome.ERROR, detail=self.ipv6_problem, tool="netns")
                    ]
        results = judge_source(
            self.plan,
            self.obs,
            contract=contract,
            state=state,
            problem=self.problem,
            void=void,
            attempts=self.attempts,
            duration=self.elapsed,
            executor=self.executor.name,
        )
        return results


def interrupted(expectations: Sequence[Expectation]) -> dict[str, list[Observation]]:
    """What a cancelled check records for expectations it did not get to observe."""
    return {e.id: [Observation(Outcome.ERROR, detail="check interrupted")] for e in expectations}
