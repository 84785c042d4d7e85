"""The hostile corpus of issue 20, as data: each case is a small project directory (a contract, compose
files, env files, links) made by `Case.make(directory)`, and what each command must do with it.

Run by `tests/unit/test_hostile_corpus.py` (exit codes and one-line messages, netcontract's reader in
process, Compose's loader where a binary is found) and by `benchmarks/hostile.py` (every case, every
command, both loaders, as a fresh process: wall time, peak memory, exit code, the line on stderr;
ceilings `SECONDS` and `MEGABYTES`). Most cases are generated because they are big (8000 tiers, a
60 KB nest of `${`), odd (a link to /dev/zero, a FIFO) or both; each says what it is in `about`.

Commands (run in the case's directory, so `.env` and `compose.yaml` are found as a user's would be):

    lint      netcontract lint -c contract.yaml -f F1 [-f F2 ...] [extra]
    init      netcontract init --from-compose F1 [-f F2 ...] [extra]
    scaffold  netcontract scaffold --dry-run -c contract.yaml -f F1
    graph     netcontract graph -c contract.yaml [extra]

`expect[command]` is (exit code, a piece of the one line on stderr; "" when the command succeeds and
prints nothing there); `expect["command/loader"]` overrides it for one loader ("builtin", "compose").
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SECONDS = 5.0
MEGABYTES = 200
COMMANDS = ("lint", "init", "scaffold", "graph")
LOADERS = ("builtin", "compose")

CONTRACT = """\
version: 1
project: p
tiers:
  front:
    network: p_front
services:
  web:
    tiers: [front]
"""

COMPOSE = """\
name: p
services:
  web:
    image: x
    networks: [front]
networks:
  front: {}
"""

OK = (0, "")
# netcontract's reader refuses `include` and `extends` (Compose's loader reads them), and scaffold edits with it
NOT_READ = {
    "lint/builtin": (3, "netcontract does not read"),
    "init/builtin": (3, "netcontract does not read"),
    "scaffold": (3, "netcontract does not read"),
}
# A file compose reads, refused before anything reads it: exit 3, naming what it is.
Content = (
    str | bytes | Callable[[Path], None]
)  # text, bytes, or a function that makes the path (a link, a FIFO)


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    files: dict[str, Content] = field(
        default_factory=dict
    )  # relative path -> content (added to the defaults)
    compose: tuple[str, ...] = ("compose.yaml",)
    expect: dict[str, tuple[int, str]] = field(default_factory=dict)
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)  # command -> more arguments
    must_not_change: tuple[str, ...] = ()  # files (relative) that no command may write

    def make(self, directory: Path) -> Path:
        defaults: dict[str, Content] = {"contract.yaml": CONTRACT, "compose.yaml": COMPOSE}
        for rel, content in {**defaults, **self.files}.items():
            path = directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(content):
                content(path)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return directory

    def argv(self, command: str, loader: str) -> list[str]:
        more = [a for f in self.compose[1:] for a in ("-f", f)]
        chosen = ["--compose-loader", loader]
        if command == "lint":
            args = ["lint", "-c", "contract.yaml", "-f", self.compose[0], *more, *chosen]
        elif command == "init":
            args = ["init", "--from-compose", self.compose[0], *more, *chosen]
        elif command == "scaffold":
            args = ["scaffold", "--dry-run", "-c", "contract.yaml", "-f", self.compose[0], *chosen]
        else:
            args = ["graph", "-c", "contract.yaml"]
        return [*args, *self.extra.get(command, ())]

    def expected(self, command: str, loader: str) -> tuple[int, str]:
        return self.expect.get(f"{command}/{loader}", self.expect.get(command, OK))


def _link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _services(body: str) -> str:
    return f"name: p\nservices:\n  web:\n    image: x\n    networks: [front]\n{body}networks:\n  front: {{}}\n"


def _contract_many_tiers(n: int) -> str:
    tiers = "".join(f"  t{i}:\n    network: p_t{i}\n" for i in range(n))
    services = "".join(f"  s{i}:\n    tiers: [t{i}]\n" for i in range(n))
    allow = "".join(f"    - t{i} -> t{i + 1}\n" for i in range(n - 1))
    return f"version: 1\nproject: p\ntiers:\n{tiers}services:\n{services}policy:\n  allow:\n{allow}"


def _nest(depth: int, inner: str = "x") -> str:
    return "${A:-" * depth + inner + "}" * depth


def _doubling_env(lines: int) -> str:
    out = ["V0=xxxxxxxxxxxxxxxx"]
    out += [f"V{i}=${{V{i - 1}}}${{V{i - 1}}}" for i in range(1, lines)]
    return "\n".join(out) + "\n"


HEX_3600 = "0x" + "f" * 3600  # about 4335 decimal digits: past Python's int-to-str limit

CASES: tuple[Case, ...] = (
    # -- 1. bounded cost --------------------------------------------------------------------------
    Case(
        "scale-million",
        "`scale: 1000000`: counted, never one object per replica",
        {"compose.yaml": _services("    scale: 1000000\n")},
    ),
    Case(
        "replicas-million",
        "`deploy.replicas: 1000000`",
        {"compose.yaml": _services("    deploy: {replicas: 1000000}\n")},
    ),
    Case(
        "dotenv-doubling",
        "a .env of 40 lines, each the previous one twice (2^40 bytes if expanded)",
        {".env": _doubling_env(40)},
        expect={c: (3, ".env: line ") for c in ("lint", "init", "scaffold")} | {"graph": OK},
    ),
    Case(
        "interp-nested-2000",
        "`${A:-` nested 2000 deep in one value",
        {"compose.yaml": _services(f"    labels: {{a: '{_nest(2000)}'}}\n")},
        expect={c: (3, "nested deeper than") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "interp-nested-300x60",
        "`${A:-` nested 300 deep, in sixty values (62 KB)",
        {
            "compose.yaml": _services(
                "    labels:\n" + "".join(f"      l{i}: '{_nest(300)}'\n" for i in range(60))
            )
        },
        expect={c: (3, "nested deeper than") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "interp-expansion",
        "one 60 KB variable from .env, used in 2000 values (120 MB if expanded)",
        {
            ".env": "BIG=" + "y" * 60_000 + "\n",
            "compose.yaml": _services(
                "    labels:\n" + "".join(f"      l{i}: '${{BIG}}'\n" for i in range(2000))
            ),
        },
        expect={c: (3, "interpolation expands to more than") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "required-var-4mb-message",
        "`${X:?...}` whose message is 4 MB once expanded",
        {
            ".env": "M=" + "m" * 60_000 + "\n",
            "compose.yaml": _services("    labels: {a: '${X:?" + "${M}" * 70 + "}'}\n"),
        },
        expect={
            c: (3, "required variable X is missing a value") for c in ("lint", "init", "scaffold")
        },
    ),
    Case(
        "int-hex-3600-name",
        "an integer literal of 3600 hex digits as a network name",
        {
            "compose.yaml": f"name: p\nservices:\n  web:\n    image: x\n    networks: [front]\nnetworks:\n  front: {{name: {HEX_3600}}}\n"
        },
        expect={c: (3, "an integer of 3602 characters") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "int-hex-3600-driver",
        "... as a network driver",
        {
            "compose.yaml": f"name: p\nservices:\n  web:\n    image: x\n    networks: [front]\nnetworks:\n  front: {{driver: {HEX_3600}}}\n"
        },
        expect={c: (3, "an integer of 3602 characters") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "int-hex-3600-port",
        "... as a published port",
        {"compose.yaml": _services(f"    ports: [{HEX_3600}]\n")},
        expect={c: (3, "an integer of 3602 characters") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "int-hex-3600-contract",
        "... as a contract's port",
        {"contract.yaml": CONTRACT + f"    ports: [{HEX_3600}]\n"},
        expect={
            "lint": (4, "an integer of 3602 characters"),
            "scaffold": (4, "an integer of 3602 characters"),
            "graph": (4, "an integer of 3602 characters"),
        },
    ),
    Case(
        "contract-2000-unknown-arrows",
        "2000 policy arrows from tiers that do not exist, among 8000 that do",
        {
            "contract.yaml": _contract_many_tiers(8000).replace(
                "  allow:\n", "  allow:\n" + "".join(f"    - nope{i} -> t0\n" for i in range(2000))
            )
        },
        expect={c: (4, "and 1980 more problems") for c in ("lint", "scaffold", "graph")},
    ),
    Case(
        "contract-8000-tiers",
        "a valid contract of 8000 tiers and 8000 services",
        {"contract.yaml": _contract_many_tiers(8000)},
        expect={"lint": (1, ""), "scaffold": (3, "contract service 's0' has no service 's0' here")},
    ),
    Case(
        "aliases-8000",
        "8000 aliases in the contract, 8000 others in the compose file, lint --json",
        {
            "compose.yaml": _services(
                "  db:\n    image: x\n    networks:\n      front:\n        aliases:\n"
                + "".join(f"          - a{i}\n" for i in range(8000))
            ),
            "contract.yaml": CONTRACT
            + "  db:\n    tiers: [front]\n    aliases:\n      front: ["
            + ", ".join(f"b{i}" for i in range(8000))
            + "]\n",
        },
        extra={"lint": ("--json", "report.json")},
        expect={"lint": (1, ""), "scaffold": (0, "")},
    ),
    Case(
        "override-30000",
        "compose.yaml and an override with 30,000 list items each",
        {
            "compose.yaml": _services(
                "    labels:\n" + "".join(f"      - a{i}=1\n" for i in range(30_000))
            ),
            "compose.override.yaml": "services:\n  web:\n    labels:\n"
            + "".join(f"      - b{i}=1\n" for i in range(30_000)),
        },
        compose=("compose.yaml", "compose.override.yaml"),
    ),
    # -- 2. every file compose reads is an input ------------------------------------------------------
    Case(
        "dotenv-dev-zero",
        ".env is a symlink to /dev/zero",
        {".env": _link("/dev/zero")},
        expect={c: (3, ".env: not a regular file") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "dotenv-fifo",
        ".env is a FIFO (a reader would block)",
        {".env": _fifo},
        expect={c: (3, ".env: not a regular file") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "env-file-option-dev-zero",
        "--env-file naming a link to /dev/zero",
        {"vars.env": _link("/dev/zero")},
        extra={"lint": ("--env-file", "vars.env"), "init": ("--env-file", "vars.env")},
        expect={c: (3, "vars.env: not a regular file") for c in ("lint", "init")},
    ),
    Case(
        "env-file-dev-zero",
        "a service's env_file is /dev/zero",
        {"compose.yaml": _services("    env_file: /dev/zero\n")},
        expect={
            c: (3, "env_file: /dev/zero: not a regular file") for c in ("lint", "init", "scaffold")
        },
    ),
    Case(
        "env-file-huge",
        "a service's env_file of 5 MB",
        {
            "big.env": "A=" + "a" * (5 * 1024 * 1024) + "\n",
            "compose.yaml": _services("    env_file: big.env\n"),
        },
        expect={c: (3, "big.env: file is") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "label-file-fifo",
        "a service's label_file is a FIFO",
        {"labels.fifo": _fifo, "compose.yaml": _services("    label_file: labels.fifo\n")},
        expect={c: (3, "labels.fifo: not a regular file") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "extends-file-dev-zero",
        "extends.file is /dev/zero",
        {"compose.yaml": _services("    extends: {file: /dev/zero, service: web}\n")},
        expect={c: (3, "/dev/zero: not a regular file") for c in ("lint", "init", "scaffold")}
        | NOT_READ,
    ),
    Case(
        "include-env-file-dev-zero",
        "include with env_file: /dev/zero",
        {
            "sub.yaml": "services:\n  other: {image: x}\n",
            "compose.yaml": "include:\n  - path: sub.yaml\n    env_file: /dev/zero\n" + COMPOSE,
        },
        expect={
            c: (3, "env_file: /dev/zero: not a regular file") for c in ("lint", "init", "scaffold")
        }
        | NOT_READ,
    ),
    Case(
        "include-project-directory-dotenv",
        "include whose project_directory holds a .env linked to /dev/zero",
        {
            "sub/sub.yaml": "services:\n  other: {image: x}\n",
            "sub/.env": _link("/dev/zero"),
            "compose.yaml": "include:\n  - path: sub/sub.yaml\n    project_directory: sub\n"
            + COMPOSE,
        },
        expect={c: (3, ".env: not a regular file") for c in ("lint", "init", "scaffold")}
        | NOT_READ,
    ),
    Case(
        "include-interpolated-fifo",
        "include: ${DIR}/sub.yaml, DIR from .env, and the file a FIFO",
        {
            ".env": "DIR=inc\n",
            "inc/sub.yaml": _fifo,
            "compose.yaml": "include:\n  - ${DIR}/sub.yaml\n" + COMPOSE,
        },
        expect={c: (3, "sub.yaml: not a regular file") for c in ("lint", "init", "scaffold")}
        | NOT_READ,
    ),
    Case(
        "json-over-env-file",
        "lint --json / init -o naming the service's env_file",
        {"app.env": "A=1\n", "compose.yaml": _services("    env_file: app.env\n")},
        extra={"lint": ("--json", "app.env"), "init": ("-o", "app.env", "--force")},
        expect={"lint": (3, "a file this run read"), "init": (3, "a file this run read")},
        must_not_change=("app.env",),
    ),
    Case(
        "json-over-extends-file",
        "lint --json / init -o naming the extends.file",
        {
            "base.yaml": "services:\n  base: {image: x}\n",
            "compose.yaml": _services("    extends: {file: base.yaml, service: base}\n"),
        },
        extra={"lint": ("--json", "base.yaml"), "init": ("-o", "base.yaml", "--force")},
        expect={"lint": (3, "a file this run read"), "init": (3, "a file this run read")}
        | NOT_READ,
        must_not_change=("base.yaml",),
    ),
    Case(
        "json-over-dotenv",
        "lint --json / init -o naming .env",
        {".env": "A=1\n"},
        extra={"lint": ("--json", ".env"), "init": ("-o", ".env", "--force")},
        expect={"lint": (3, ".env"), "init": (3, ".env")},
        must_not_change=(".env",),
    ),
    # -- 3. writes ------------------------------------------------------------------------------------------
    Case(
        "output-through-symlinked-parent",
        "--json / -o under a directory that is a symlink",
        {"elsewhere/keep.txt": "keep\n", "out": _link("elsewhere")},
        extra={
            "lint": ("--json", "out/report.json"),
            "init": ("-o", "out/draft.yaml"),
            "graph": ("-o", "out/graph.mmd"),
        },
        expect={c: (3, "out is a symbolic link") for c in ("lint", "init", "graph")},
    ),
    Case(
        "output-dev-full",
        "--json / -o to /dev/full (a full disk)",
        extra={
            "lint": ("--json", "/dev/full"),
            "init": ("-o", "/dev/full", "--force"),
            "graph": ("-o", "/dev/full"),
        },
        expect={c: (3, "No space left on device") for c in ("lint", "init", "graph")},
    ),
    # -- 4. terminal output -------------------------------------------------------------------------------
    Case(
        "scaffold-bidi-cr",
        "a compose file whose comments hold a bare CR and bidi controls (scaffold diff)",
        {
            "compose.yaml": "name: p\nservices:\n  web:\n    image: x\n    privileged: true\r    # not privileged  \n"
            "    # \u202e evil \u202c\n    networks: [other]\nnetworks:\n  other: {}\n"
        },
        expect={"lint": (1, ""), "scaffold": (0, "")},
    ),
    # -- 5. keys -------------------------------------------------------------------------------------------
    Case(
        "duplicate-binary-key",
        "a service key spelt !!binary that duplicates another",
        {
            "compose.yaml": "name: p\nservices:\n  web:\n    image: x\n    networks: [front]\n"
            "  ? !!binary d2Vi\n  : {image: evil, network_mode: host}\nnetworks:\n  front: {}\n"
        },
        expect={c: (3, "duplicate key") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "duplicate-str-tag-key",
        "a service key spelt !!str and with an escape that duplicates another",
        {
            "compose.yaml": "name: p\nservices:\n  web:\n    image: x\n    networks: [front]\n"
            '  !!str "w\\x65b": {image: evil, network_mode: host}\nnetworks:\n  front: {}\n'
        },
        expect={c: (3, "duplicate key") for c in ("lint", "init", "scaffold")},
    ),
    Case(
        "duplicate-int-key",
        "a contract key 1 and '1'",
        {"contract.yaml": CONTRACT.replace("  web:\n", "  '1':\n    tiers: [front]\n  1:\n")},
        expect={c: (4, "duplicate key") for c in ("lint", "scaffold", "graph")},
    ),
)


YAML_DIR = Path(__file__).resolve().parent / "yaml"


def _yaml_case(path: Path) -> Case:
    """A file of tests/hostile/yaml/ (the first round): a compose file refused with exit 3, a contract
    with exit 4, by every command that reads it; the others do not read it and succeed."""
    if path.name.endswith(".compose.yaml"):
        refused = {c: (3, "compose.yaml") for c in ("lint", "init", "scaffold")}
        return Case(
            f"yaml/{path.name}",
            "first-round hostile compose file",
            {"compose.yaml": path.read_bytes()},
            expect=refused,
        )
    refused = {c: (4, "contract.yaml") for c in ("lint", "scaffold", "graph")}
    return Case(
        f"yaml/{path.name}",
        "first-round hostile contract",
        {"contract.yaml": path.read_bytes()},
        expect=refused,
    )


CASES += tuple(_yaml_case(p) for p in sorted(YAML_DIR.glob("*.yaml")))


def by_name(name: str) -> Case:
    return next(c for c in CASES if c.name == name)
