"""`init --from-live`: the State and hints a draft needs, read from the running stack."""

from __future__ import annotations

from dataclasses import replace

from netcontract.draft.build import DraftHints, draft_contract
from netcontract.errors import NoStackError, ProjectNeededError
from netcontract.live.docker import engine as docker_engine
from netcontract.state import Container, State

_DOCKER_NETWORKS = {"host", "none", "bridge"}


def project_snapshot(
    client: docker_engine.ReadApi,
    project: str | None,
    skip: frozenset[str] = frozenset({"host", "none"}),
) -> tuple[State, list[Container]]:
    """The state of `project` on the networks its containers use (but `skip`), and the project's containers.

    Without a project, the engine's only compose project; ProjectNeededError when it has none or several,
    NoStackError when no container carries the project's label. Shared by `init --from-live` and `observe`.
    """
    if project is None:
        projects = docker_engine.compose_projects(client)
        if len(projects) != 1:
            found = ", ".join(projects) if projects else "none"
            raise ProjectNeededError(
                f"pass --project: the engine has {len(projects)} compose projects ({found})"
            )
        project = projects[0]
    first = docker_engine.snapshot(client, project, [])
    mine = [c for c in first.containers if c.project == project]
    if not mine:
        raise NoStackError(
            f"no container on the engine has the label com.docker.compose.project={project}"
        )
    networks = dict.fromkeys(n for c in mine for n in c.networks if n not in skip)
    return docker_engine.snapshot(client, project, list(networks)), mine


def draft_from_live(project: str | None, command: str) -> str:
    """`init --from-live`: the draft contract (YAML text) for `project`, read from the engine in the environment.

    Without a project, the engine's only compose project (see `project_snapshot`). `command` is recorded in
    the draft.
    """
    client = docker_engine.connect_read()
    try:
        state, mine = project_snapshot(client, project, frozenset(_DOCKER_NETWORKS))
        state = replace(
            state,
            containers=tuple(sorted(state.containers, key=lambda c: (c.service or "", c.name))),
        )
        declared = docker_engine.declared_ports(client, [c.id for c in mine])
    finally:
        client.close()
    ports: dict[str, tuple[int, ...]] = {}
    other: dict[str, tuple[str, ...]] = {}
    for c in mine:
        if c.service:
            tcp, rest = declared.get(c.id, ((), ()))
            ports[c.service] = tuple(dict.fromkeys(ports.get(c.service, ()) + tcp))
            if rest:
                other[c.service] = tuple(dict.fromkeys(other.get(c.service, ()) + rest))
    return draft_contract(state, DraftHints(command=command, ports=ports, other_ports=other))
