"""Probe scripts and their output parsers. Pure: no docker, no I/O.

One batch script runs every probe of one source container concurrently, in
the container's own network namespace (through `docker exec`, or a sidecar
sharing it). The script picks its tools at run time (nc -z/-e, bash /dev/tcp
or python3 for TCP; nslookup, getent or python3 for DNS; ping for ICMP),
bounds the batch by one fractional watchdog, and prints line-prefixed output
that `probe_output.parse_batch` turns into one `Observation` per probe.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from netcontract.addresses import is_address
from netcontract.errors import UnsafeProbeError
from netcontract.names import is_dns_name
from netcontract.probe.observation import Probe, ProbeKind
from netcontract.probe.timing import Timing


def _safe_target(target: str) -> str:
    # "name." is the absolute form (no search list), which the scripted executors ask on Podman
    if (
        is_address(target)
        or is_dns_name(target)
        or (target.endswith(".") and is_dns_name(target[:-1]))
    ):
        return target
    raise UnsafeProbeError(
        f"refusing to put {target!r} in a probe script: not an address or a DNS name"
    )


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

# The batch's markers: every line the script itself prints starts with "@". A probe's lines are
# `@<key>|<line>`, its status `@<key>|@@rc <code>`; the script's own lines are the rest. parse.py reads
# them by these names only.
TOOLS = "@@tools"  # `@@tools tcp=<tool> dns=<tool> icmp=<tool>`: the tools the script chose
MISSING = "@@missing"  # `@@missing <what>`: no watchdog (sleep) or, with require_tools, no tool for a kind
NOTOOL = "@@notool"  # a probe's line: no tool for its kind
RC = "@@rc"  # a probe's status line: its exit code (143: killed by the watchdog)
DONE = "@@done"  # the script reached its end

_PRELUDE = r"""
T={timeout}
W={whole}
have() {{ command -v "$1" >/dev/null 2>&1; }}
# A TCP probe must end at connect. Plain `nc </dev/null` then waits for the server
# to close, and its "timed out" would turn a reached port into "isolated": only
# nc with -z (openbsd, traditional, ncat, full busybox) or busybox's -e qualifies.
# Full busybox nc (Alpine's; Debian's is the small one) says nothing when a connect
# fails unless told -v twice.
NC=
NCV=
if have nc; then
  h=$(nc -h 2>&1)
  case $h in *" -z"*) NC=nc-z ;; *"-e PROG"*) NC=nc-e ;; esac
  case $h in *BusyBox*Zero-I/O*) NCV="-v -v" ;; esac
fi
if [ -n "$NC" ]; then TCP=$NC; elif have bash; then TCP=bash; elif have python3; then TCP=python3; else TCP=none; fi
if have nslookup; then DNS=nslookup; elif have getent; then DNS=getent; elif have python3; then DNS=python3; else DNS=none; fi
# glibc getent knows ahostsv4 (every address); musl's only hosts. Asked of /etc/hosts, no query leaves.
GETENT_DB=hosts; [ "$DNS" = getent ] && getent ahostsv4 localhost >/dev/null 2>&1 && GETENT_DB=ahostsv4
if have ping; then ICMP=ping; else ICMP=none; fi
echo "{tools} tcp=$TCP dns=$DNS icmp=$ICMP"
tcp() {{
  case $TCP in
    nc-z) exec nc -z $NCV -w "$W" "$1" "$2" </dev/null ;;
    nc-e) exec nc $NCV -w "$W" "$1" "$2" -e true ;;
    bash) exec bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" ;;
    python3) exec python3 -c {py_tcp} "$1" "$2" "$T" ;;
    *) echo "{notool} tcp"; return 127 ;;
  esac
}}
dns() {{
  case $DNS in
    nslookup) exec nslookup -type=a "$1" ;;
    getent) exec getent "$GETENT_DB" "$1" ;;
    python3) exec python3 -c {py_dns} "$1" ;;
    *) echo "{notool} dns"; return 127 ;;
  esac
}}
icmp() {{
  case $ICMP in
    ping) exec ping -c 1 -W "$W" "$1" ;;
    *) echo "{notool} icmp"; return 127 ;;
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
  printf '%s@%s|{rc} %s\n' "$buf" "$k" "$r"
}}
J=
"""


def batch_script(probes: Sequence[Probe], timeout: float, *, require_tools: bool = False) -> str:
    """A POSIX sh script that runs `probes` concurrently and prints `@key|line` lines.

    Without `sleep` (the watchdog) the script exits 3 after printing
    `@@missing sleep`, before probing anything. With `require_tools` it does the
    same when the container lacks a tool for any of the probe kinds: the `auto`
    executor then moves the batch to a sidecar.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    whole = Timing.whole_seconds(timeout)
    lines = [
        _PRELUDE.format(
            timeout=f"{timeout:g}",
            whole=whole,
            py_tcp=shlex.quote(_PY_TCP),
            py_dns=shlex.quote(_PY_DNS),
            tools=TOOLS,
            notool=NOTOOL,
            rc=RC,
        )
    ]
    # Without sleep there is no watchdog: every probe would read as timed out at once.
    lines.append(f'have sleep || {{ echo "{MISSING} sleep"; exit 3; }}')
    if require_tools:
        for kind in sorted({p.kind.value for p in probes}):
            var = kind.upper()
            lines.append(f'[ "${var}" = none ] && {{ echo "{MISSING} {kind}"; exit 3; }}')
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
        f'{{ printf \'@%s|{RC} 143\\n\' "${{j%%:*}}"; kill "${{j#*:}}" 2>/dev/null; }}; done ) & WD=$!',
        'for j in $J; do wait "${j#*:}"; done',
        'kill "$WD" 2>/dev/null',
        f"echo {DONE}",
    ]
    return "\n".join(lines) + "\n"
