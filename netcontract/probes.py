"""Probe scripts and their output parsers. Pure: no docker, no I/O.

One batch script runs every probe of one source container concurrently, in
the container's own network namespace (through `docker exec`, or a sidecar
sharing it). The script picks its tools at run time (nc, bash /dev/tcp or
python3 for TCP; nslookup, getent or python3 for DNS; ping for ICMP), bounds
every probe by a fractional watchdog, and prints line-prefixed output that
`parse_batch` turns into one `Observation` per probe. Exit codes of nslookup
and ping are never trusted: their output is parsed.
"""

from __future__ import annotations

import contextlib
import enum
import ipaddress
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netcontract.names import is_dns_name


class Outcome(enum.StrEnum):
    OK = "ok"  # connected / answered / resolved
    REFUSED = "refused"  # reachable, nothing listening: NOT isolation
    TIMEOUT = "timeout"  # dropped, or no DNS answer within the timeout
    UNREACHABLE = "unreachable"  # no route to the address
    NXDOMAIN = "nxdomain"  # the resolver says the name does not exist
    ERROR = "error"  # the probe could not be made


class ProbeKind(enum.StrEnum):
    DNS = "dns"
    TCP = "tcp"
    ICMP = "icmp"


@dataclass(frozen=True)
class Probe:
    key: str  # unique in its batch: p0, p1, ...
    kind: ProbeKind
    target: str  # a DNS name for dns; an address (or a DNS name for canaries) otherwise
    port: int | None = None


@dataclass(frozen=True)
class Observation:
    outcome: Outcome
    addresses: tuple[str, ...] = ()
    detail: str = ""
    output: str = ""
    tool: str = ""

    @property
    def connected(self) -> bool:
        """The target answered at the network level (an open or a refusing port)."""
        return self.outcome in (Outcome.OK, Outcome.REFUSED)


class UnsafeProbeError(ValueError):
    """A probe target that could break the script; the planner never produces one."""


def _safe_target(target: str) -> str:
    try:
        ipaddress.ip_address(target)
        return target
    except ValueError:
        if is_dns_name(target):
            return target
    raise UnsafeProbeError(f"refusing to put {target!r} in a probe script: not an address or a DNS name")


# -- the batch script -------------------------------------------------------------------

_PY_TCP = (
    "import socket,sys\n"
    "try:\n"
    " socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=float(sys.argv[3])).close()\n"
    "except Exception as e:\n"
    " print(type(e).__name__+': '+str(e)); sys.exit(1)\n"
)
_PY_DNS = (
    "import socket,sys\n"
    "try:\n"
    " r=socket.getaddrinfo(sys.argv[1],None,socket.AF_INET,socket.SOCK_STREAM)\n"
    " print(' '.join(sorted({a[4][0] for a in r})))\n"
    "except socket.gaierror as e:\n"
    " print('gaierror %d %s'%(e.errno,e)); sys.exit(2)\n"
)

_PRELUDE = r"""
T={timeout}
W={whole}
have() {{ command -v "$1" >/dev/null 2>&1; }}
# A TCP probe must end at connect. Plain `nc </dev/null` then waits for the server
# to close, and its "timed out" would turn a reached port into "isolated": only
# nc with -z (openbsd, traditional, ncat, full busybox) or busybox's -e qualifies.
NC=
if have nc; then
  h=$(nc -h 2>&1)
  case $h in *" -z"*) NC=nc-z ;; *"-e PROG"*) NC=nc-e ;; esac
fi
if [ -n "$NC" ]; then TCP=$NC; elif have bash; then TCP=bash; elif have python3; then TCP=python3; else TCP=none; fi
if have nslookup; then DNS=nslookup; elif have getent; then DNS=getent; elif have python3; then DNS=python3; else DNS=none; fi
# glibc getent knows ahostsv4 (every address); musl's only hosts. Asked of /etc/hosts, no query leaves.
GETENT_DB=hosts; [ "$DNS" = getent ] && getent ahostsv4 localhost >/dev/null 2>&1 && GETENT_DB=ahostsv4
if have ping; then ICMP=ping; else ICMP=none; fi
echo "@@tools tcp=$TCP dns=$DNS icmp=$ICMP"
tcp() {{
  case $TCP in
    nc-z) exec nc -z -w "$W" "$1" "$2" </dev/null ;;
    nc-e) exec nc -w "$W" "$1" "$2" -e true ;;
    bash) exec bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" ;;
    python3) exec python3 -c {py_tcp} "$1" "$2" "$T" ;;
    *) echo "@@notool tcp"; return 127 ;;
  esac
}}
dns() {{
  case $DNS in
    nslookup) exec nslookup "$1" ;;
    getent) exec getent "$GETENT_DB" "$1" ;;
    python3) exec python3 -c {py_dns} "$1" ;;
    *) echo "@@notool dns"; return 127 ;;
  esac
}}
icmp() {{
  case $ICMP in
    ping) exec ping -c 1 -W "$W" "$1" ;;
    *) echo "@@notool icmp"; return 127 ;;
  esac
}}
# Each probe is one background job: the job's shell plus its tool, which the
# command substitution `exec`s. A single watchdog kills the jobs still running
# after $T and reports them as 143 (timed out): two processes per probe.
run() {{
  k=$1; shift
  out=$("$@" 2>&1); r=$?
  buf=
  while IFS= read -r l; do buf="$buf@$k|$l
"; done <<NCEOF
$out
NCEOF
  printf '%s@%s|@@rc %s\n' "$buf" "$k" "$r"
}}
J=
"""


def batch_script(probes: Sequence[Probe], timeout: float, *, require_tools: bool = False) -> str:
    """A POSIX sh script that runs `probes` concurrently and prints `@key|line` lines.

    With `require_tools`, the script exits 3 after printing `@@missing ...` when
    the container lacks a tool for any of the probe kinds, before probing
    anything: the `auto` executor then moves the batch to a sidecar.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    whole = max(1, math.ceil(timeout))
    lines = [
        _PRELUDE.format(
            timeout=f"{timeout:g}", whole=whole, py_tcp=shlex.quote(_PY_TCP), py_dns=shlex.quote(_PY_DNS)
        )
    ]
    if require_tools:
        lines.append('have sleep || { echo "@@missing sleep"; exit 3; }')
        for kind in sorted({p.kind.value for p in probes}):
            var = kind.upper()
            lines.append(f'[ "${var}" = none ] && {{ echo "@@missing {kind}"; exit 3; }}')
    for p in probes:
        if not re.fullmatch(r"p\d+", p.key):
            raise UnsafeProbeError(f"bad probe key {p.key!r}")
        target = shlex.quote(_safe_target(p.target))
        if p.kind is ProbeKind.TCP:
            if p.port is None or not 0 < p.port < 65536:
                raise UnsafeProbeError(f"bad port {p.port!r}")
            cmd = f"tcp {target} {int(p.port)}"
        elif p.kind is ProbeKind.DNS:
            cmd = f"dns {target}"
        else:
            cmd = f"icmp {target}"
        lines.append(f'run {p.key} {cmd} & J="$J {p.key}:$!"')
    lines += [
        # the watchdog's sleep writes nowhere, so it never holds the output stream open. It reports
        # a job before killing it: the main shell may stop the watchdog as soon as the last job ends.
        '( sleep "$T" >/dev/null 2>&1; for j in $J; do kill -0 "${j#*:}" 2>/dev/null && '
        '{ printf \'@%s|@@rc 143\\n\' "${j%%:*}"; kill "${j#*:}" 2>/dev/null; }; done ) & WD=$!',
        'for j in $J; do wait "${j#*:}"; done',
        'kill "$WD" 2>/dev/null',
        "echo @@done",
    ]
    return "\n".join(lines) + "\n"


# -- parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOutput:
    tools: Mapping[str, str]  # kind -> tool chosen by the script ("none" when absent)
    per_probe: Mapping[str, tuple[int | None, str]]  # key -> (rc, output)
    complete: bool  # the script reached its end


def split_batch(text: str) -> BatchOutput:
    tools: dict[str, str] = {}
    outputs: dict[str, list[str]] = {}
    rcs: dict[str, int] = {}
    complete = False
    for line in text.splitlines():
        if line.startswith("@@tools "):
            for part in line.split()[1:]:
                kind, _, tool = part.partition("=")
                tools[kind] = tool
        elif line.strip() == "@@done":
            complete = True
        elif line.startswith("@") and "|" in line:
            key, _, rest = line[1:].partition("|")
            if rest.startswith("@@rc "):
                # the first status wins: a watchdog report after a job's own is stale
                if key not in rcs:
                    with contextlib.suppress(ValueError):
                        rcs[key] = int(rest[5:].strip())
            elif key in rcs:
                continue  # nothing belongs to a probe after its status
            else:
                outputs.setdefault(key, []).append(rest)
    keys = set(outputs) | set(rcs)
    per = {k: (rcs.get(k), "\n".join(outputs.get(k, []))) for k in keys}
    return BatchOutput(tools, per, complete)


# Killed by the batch watchdog (SIGTERM). A SIGKILL (137: the container died, or
# the OOM killer) is not a timeout: it proves nothing about the network.
_TIMED_OUT_RC = (143,)


def parse_batch(text: str, probes: Sequence[Probe]) -> dict[str, Observation]:
    """One Observation per probe; a probe without its result line is an ERROR, never a pass."""
    batch = split_batch(text)
    out: dict[str, Observation] = {}
    for p in probes:
        tool = batch.tools.get(p.kind.value, "")
        if p.key not in batch.per_probe:
            out[p.key] = Observation(Outcome.ERROR, detail="no result from the probe script", tool=tool)
            continue
        rc, output = batch.per_probe[p.key]
        if "@@notool" in output:
            out[p.key] = Observation(
                Outcome.ERROR, detail=f"no tool for a {p.kind.value} probe in this container", output=output
            )
        elif rc is None:
            out[p.key] = Observation(Outcome.ERROR, detail="probe ended without an exit status", output=output)
        else:
            out[p.key] = classify(p.kind, tool, rc, output)
    return out


def classify(kind: ProbeKind, tool: str, rc: int, output: str) -> Observation:
    """Classify one probe's output. The exit code only decides where the output is silent."""
    if kind is ProbeKind.DNS:
        obs = parse_dns(tool, rc, output)
    elif kind is ProbeKind.TCP:
        obs = parse_tcp(tool, rc, output)
    else:
        obs = parse_ping(rc, output)
    return Observation(obs.outcome, obs.addresses, obs.detail, output, tool)


_TCP_PATTERNS: tuple[tuple[str, Outcome], ...] = (
    (r"refused|ConnectionRefusedError", Outcome.REFUSED),
    (r"no route to host|host is unreachable|network is unreachable|network unreachable|EHOSTUNREACH|ENETUNREACH",
     Outcome.UNREACHABLE),
    (r"timed out|timeout|TimeoutError", Outcome.TIMEOUT),
    (r"connection to .* succeeded|connected to|open$", Outcome.OK),
)


def parse_tcp(tool: str, rc: int, output: str) -> Observation:
    """busybox/openbsd/traditional nc, ncat, bash /dev/tcp and the python3 helper."""
    text = output.strip()
    for pattern, outcome in _TCP_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
            return Observation(outcome, detail=_first_line(text))
    if rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no answer within the probe timeout")
    if rc == 0:
        return Observation(Outcome.OK, detail="connected")
    return Observation(Outcome.ERROR, detail=f"{tool or 'tcp probe'} exited {rc}: {_first_line(text) or 'no output'}")


_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"


def parse_dns(tool: str, rc: int, output: str) -> Observation:
    text = output.strip()
    if tool == "nslookup" or "Server:" in text:
        return _parse_nslookup(rc, text)
    if tool == "python3":
        if rc == 0:
            return Observation(Outcome.OK, tuple(re.findall(_IPV4, text)))
        if rc in _TIMED_OUT_RC:
            return Observation(Outcome.TIMEOUT, detail="no DNS answer within the probe timeout")
        if "-2 " in text or "Name or service not known" in text or "not known" in text:
            return Observation(Outcome.NXDOMAIN, detail=_first_line(text))
        if "-3 " in text or "Temporary failure" in text:
            return Observation(Outcome.TIMEOUT, detail=_first_line(text))
        return Observation(Outcome.ERROR, detail=_first_line(text) or f"python3 exited {rc}")
    # getent (glibc or musl): "ADDR  name ..." per line; exit 2 = not found
    if rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no DNS answer within the probe timeout")
    if rc == 2:
        return Observation(Outcome.NXDOMAIN, detail="getent: not found")
    addrs = [line.split()[0] for line in text.splitlines() if line.split() and re.fullmatch(_IPV4, line.split()[0])]
    if rc == 0 and addrs:
        return Observation(Outcome.OK, tuple(dict.fromkeys(addrs)))
    return Observation(Outcome.ERROR, detail=f"getent exited {rc}: {_first_line(text) or 'no output'}")


def _parse_nslookup(rc: int, text: str) -> Observation:
    """busybox and bind nslookup. The server's own address block is skipped."""
    low = text.lower()
    if "nxdomain" in low or ("can't find" in low and "servfail" not in low and "no answer" not in low):
        return Observation(Outcome.NXDOMAIN, detail=_first_matching(text, "can't find") or "NXDOMAIN")
    addrs: list[str] = []
    in_answer = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Name:"):
            in_answer = True
            continue
        if in_answer and s.startswith("Address"):
            value = s.split(":", 1)[1].strip() if ":" in s else ""
            value = value.split()[0] if value else ""
            if re.fullmatch(_IPV4, value):
                addrs.append(value)
    if addrs:
        return Observation(Outcome.OK, tuple(dict.fromkeys(addrs)))
    if "servfail" in low or "refused" in low:
        return Observation(Outcome.TIMEOUT, detail=_first_matching(text, "can't find") or "SERVFAIL: no answer")
    if "timed out" in low or "no servers could be reached" in low or rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no DNS answer within the probe timeout")
    if "can't find" in low:
        return Observation(Outcome.NXDOMAIN, detail=_first_matching(text, "can't find"))
    return Observation(Outcome.ERROR, detail=f"nslookup exited {rc}: {_first_line(text) or 'no output'}")


def parse_ping(rc: int, output: str) -> Observation:
    """busybox and iputils ping: decided by the received count, not the exit code."""
    text = output.strip()
    low = text.lower()
    m = re.search(r"(\d+) packets? transmitted, (\d+) (?:packets )?received", low)
    if m and int(m.group(2)) > 0:
        return Observation(Outcome.OK, detail=_first_matching(text, "transmitted"))
    if "unreachable" in low or "no route" in low:
        return Observation(Outcome.UNREACHABLE, detail=_first_matching(text, "nreachable") or "unreachable")
    if "permitted" in low or "permission denied" in low:
        return Observation(Outcome.ERROR, detail=f"ping not permitted: {_first_line(text)}")
    if m or rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no echo reply within the probe timeout")
    return Observation(Outcome.ERROR, detail=f"ping exited {rc}: {_first_line(text) or 'no output'}")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def _first_matching(text: str, needle: str) -> str:
    for line in text.splitlines():
        if needle.lower() in line.lower():
            return line.strip()[:200]
    return ""
