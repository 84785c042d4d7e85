"""`init --from-compose`: the State and hints a draft needs, read from compose files (no daemon).

The live source (`init --from-live`) is `netcontract.live.init_source`; both end in
`draft.build.draft_contract(state, hints)`.
"""

from __future__ import annotations

from netcontract.compose.loader import load_project
from netcontract.compose.project import ComposeOptions, to_state
from netcontract.draft.build import DraftHints, draft_contract


def draft_from_compose(options: ComposeOptions, command: str) -> str:
    """`init --from-compose`: the draft contract (YAML text) for the project the compose files describe.

    Services inactive without a --profile are left out with a comment; `command` is recorded in the draft.
    """
    project = load_project(options)
    used = project.used_networks()
    skipped = {
        s.name: f"inactive without --profile {' or --profile '.join(s.profiles)}"
        for s in project.services
        if not s.active
    }
    hints = DraftHints(
        command=command,
        tier_keys={n.name: n.key for n in used},
        ports={s.name: s.expose for s in project.active},
        other_ports={s.name: s.expose_other for s in project.active if s.expose_other},
        healthchecks={s.name: s.healthcheck for s in project.active},
        skipped=skipped,
        external=frozenset(n.name for n in used if n.external),
    )
    return draft_contract(to_state(project), hints)
