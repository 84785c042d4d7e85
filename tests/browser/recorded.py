"""A JSON report read back into a Report, with the contract's topology: to render again a page of a run
recorded on the live test stack (the JSON report carries no topology)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from netcontract.contract import load_contract
from netcontract.results import Report, Result, Verdict

_FIELDS = {f.name for f in dataclasses.fields(Result)}


def load_report(path: Path, contract: Path) -> Report:
    """The report in `path` (netcontract check --json), with `contract`'s tiers, services and flows."""
    data = json.loads(path.read_text(encoding="utf-8"))
    results = tuple(
        Result(
            **{k: v for k, v in r.items() if k in _FIELDS and k != "verdict"},
            verdict=Verdict(r["verdict"]),
        )
        for r in data["results"]
    )
    return Report(
        data["contract"],
        results,
        project=data["project"],
        source=data["source"],
        command=data["command"],
        duration=data["duration"],
        notes=tuple(data["notes"]),
        engine=data.get("engine", ""),
        topology=load_contract(contract).topology(),
    )
