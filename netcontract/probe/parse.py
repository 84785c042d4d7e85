"""Probe output parsers: batch output -> one `Observation` per probe. Pure.

Outcomes are read from what the tools print (busybox, bind and glibc
resolvers; busybox/openbsd/traditional nc, ncat, bash /dev/tcp, python3;
busybox and iputils ping); an exit code only decides where the output is
silent. A probe that printed nothing is an ERROR, never a pass.

The output is not ours: it echoes names (a canary host, the name looked up,
reverse names from the resolver) and, with the exec executor, comes from the
container's own tools. So it is split on `\n` only (never `str.splitlines`,
which also splits on `\r`, `\x0b`, `\x1c`, NEL, U+2028 ...), and each
outcome is read from a whole line in the tool's own format, or from the
error reason a tool prints last (`...: Connection refused`), never from a
word anywhere in the text: a name holding "nxdomain", "timeout" or
"unreachable" does not change the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind
from netcontract.probe.script import DONE, MISSING, NOTOOL, RC, TOOLS


@dataclass(frozen=True)
class BatchOutput:
    """A batch script's output split by probe: the tools it chose, each probe's status and lines."""

    tools: Mapping[str, str]  # kind -> tool chosen by the script ("none" when absent)
    per_probe: Mapping[str, tuple[int | None, str]]  # key -> (rc, output)
    complete: bool  # the script reached its end


def lines(text: str) -> list[str]:
    """The lines of tool output: split on "\n" only, a trailing "\r" dropped (a "\r" inside a line stays
    in it: it cannot start a line of its own)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def split_batch(text: str) -> BatchOutput:
    """Split a batch's output into the script's own lines and each probe's `@key|line` lines."""
    tools: dict[str, str] = {}
    outputs: dict[str, list[str]] = {}
    rcs: dict[str, int] = {}
    complete = False
    for line in lines(text):
        if line.startswith(TOOLS + " "):
            for part in line.split(" ")[1:]:
                kind, _, tool = part.partition("=")
                if kind:
                    tools[kind] = tool
        elif line == DONE:
            complete = True
        elif line.startswith("@") and "|" in line:
            key, _, rest = line[1:].partition("|")
            if rest.startswith(RC + " "):
                # the first status wins: a watchdog report after a job's own is stale
                status = rest[len(RC) + 1 :].strip(" ")
                if key not in rcs and re.fullmatch(r"-?[0-9]{1,3}", status):
                    rcs[key] = int(status)
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
    missing = [line.split(" ", 1)[1] for line in lines(text) if line.startswith(MISSING + " ")]
    out: dict[str, Observation] = {}
    for p in probes:
        tool = batch.tools.get(p.kind.value, "")
        if missing:
            out[p.key] = Observation(
                Outcome.ERROR, detail=f"the container has no {', '.join(missing)}", tool=tool
            )
        elif tool == "none":
            out[p.key] = Observation(
                Outcome.ERROR, detail=f"no tool for a {p.kind.value} probe in this container"
            )
        elif p.key not in batch.per_probe:
            out[p.key] = Observation(
                Outcome.ERROR, detail="no result from the probe script", tool=tool
            )
        else:
            rc, output = batch.per_probe[p.key]
            if any(line.startswith(NOTOOL) for line in lines(output)):
                out[p.key] = Observation(
                    Outcome.ERROR,
                    detail=f"no tool for a {p.kind.value} probe in this container",
                    output=output,
                )
            elif rc is None:
                out[p.key] = Observation(
                    Outcome.ERROR, detail="probe ended without an exit status", output=output
                )
            else:
                out[p.key] = classify(p.kind, tool, rc, output)
    return out


def lacks_tools(code: int | None, text: str) -> bool:
    """Whether an exec under `auto` found no usable shell or probe tools in the container: the script said
    `@@missing <what>`, or no shell started at all (exit 126 or 127, no `@@tools` line, and the runtime's
    "not found" or "no such file" on a line of its own). Read line by line, like every other output."""
    rows = lines(text)
    if any(row.startswith(MISSING + " ") for row in rows):
        return True
    if code not in (126, 127) or any(row.startswith(TOOLS + " ") for row in rows):
        return False
    return any(
        not row.startswith("@") and ("not found" in row.lower() or "no such file" in row.lower())
        for row in rows
    )


def classify(kind: ProbeKind, tool: str, rc: int, output: str) -> Observation:
    """Classify one probe's output. The exit code only decides where the output is silent."""
    if kind is ProbeKind.DNS:
        obs = parse_dns(tool, rc, output)
    elif kind is ProbeKind.TCP:
        obs = parse_tcp(tool, rc, output)
    else:
        obs = parse_ping(rc, output)
    return Observation(obs.outcome, obs.addresses, obs.detail, output, tool)


# The error reason a tool prints last on its line (`nc: connect to HOST port 81 (tcp) failed: Connection
# refused`, `bash: connect: No route to host`, `ConnectionRefusedError: [Errno 111] Connection refused`),
# lower-cased, without `[Errno N] ` and a final '.'.
_REASONS: dict[str, Outcome] = {
    "connection refused": Outcome.REFUSED,
    "no route to host": Outcome.UNREACHABLE,
    "host is unreachable": Outcome.UNREACHABLE,
    "network is unreachable": Outcome.UNREACHABLE,
    "network unreachable": Outcome.UNREACHABLE,
    "host unreachable": Outcome.UNREACHABLE,
    "ehostunreach": Outcome.UNREACHABLE,
    "enetunreach": Outcome.UNREACHABLE,
    "timed out": Outcome.TIMEOUT,
    "connection timed out": Outcome.TIMEOUT,
    "operation timed out": Outcome.TIMEOUT,
    "timeout": Outcome.TIMEOUT,
}
# python3's exception names, when its message is empty (`TimeoutError: `).
_EXCEPTIONS = {
    "ConnectionRefusedError": Outcome.REFUSED,
    "TimeoutError": Outcome.TIMEOUT,
    "timeout": Outcome.TIMEOUT,
}
# Whole-line formats: the host is one token (`\S+`), so no word inside it can match.
_TCP_LINES: tuple[tuple[re.Pattern[str], Outcome], ...] = (
    # openbsd nc: "nc: connect to HOST port 81 (tcp) timed out: Operation now in progress"
    (re.compile(r"nc: connect to \S+ port \d+ \(\w+\) timed out: .*"), Outcome.TIMEOUT),
    # openbsd nc -v: "Connection to HOST 5432 port [tcp/*] succeeded!"
    (re.compile(r"Connection to \S+ \d+ port \[\S+\] succeeded!", re.IGNORECASE), Outcome.OK),
    # ncat -v: "Ncat: Connected to HOST:80."
    (re.compile(r"Ncat: Connected to \S+\.?", re.IGNORECASE), Outcome.OK),
    # traditional nc -v: "HOST [ADDR] 80 (http) open"
    (re.compile(r"\S+ \[\S+\] \d+ \(\S*\) open"), Outcome.OK),
)
_PRECEDENCE = (Outcome.REFUSED, Outcome.UNREACHABLE, Outcome.TIMEOUT, Outcome.OK)


def _reason(line: str) -> str:
    """The last `: `-separated part of a line: where every tool puts its error text, after any name."""
    last = (
        line.rsplit(": ", 1)[-1]
        if ": " in line
        else line.rsplit(":", 1)[-1]
        if line.endswith(":")
        else line
    )
    last = re.sub(r"^\[Errno -?\d+\] ", "", last.strip()).rstrip(".")
    return last.lower()


def _tcp_line(line: str) -> Outcome | None:
    s = line.strip()
    for pattern, outcome in _TCP_LINES:
        if pattern.fullmatch(s):
            return outcome
    if ": " in s or s.endswith(":"):
        found = _REASONS.get(_reason(s))
        if found is not None:
            return found
        head = s.split(":", 1)[0].rsplit(".", 1)[-1]
        if s.split(":", 1)[1].strip() == "" and head in _EXCEPTIONS:
            return _EXCEPTIONS[head]
    return None


def parse_tcp(tool: str, rc: int, output: str) -> Observation:
    """busybox/openbsd/traditional nc, ncat, bash /dev/tcp and the python3 helper."""
    text = output.strip()
    seen = {o for o in (_tcp_line(line) for line in lines(text)) if o is not None}
    for outcome in _PRECEDENCE:
        if outcome in seen:
            return Observation(outcome, detail=_first_line(text))
    if rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no answer within the probe timeout")
    if rc == 0:
        return Observation(Outcome.OK, detail="connected")
    return Observation(
        Outcome.ERROR,
        detail=f"{tool or 'tcp probe'} exited {rc}: {_first_line(text) or 'no output'}",
    )


_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"


def parse_dns(tool: str, rc: int, output: str) -> Observation:
    """nslookup (busybox, bind), getent (glibc, musl) or the python3 helper: the lookup's Observation."""
    text = output.strip()
    if tool == "nslookup" or any(line.startswith("Server:") for line in lines(text)):
        return _parse_nslookup(rc, text)
    if tool == "python3":
        return _parse_python_dns(rc, text)
    # getent (glibc or musl): "ADDR  name ..." per line; exit 2 = not found
    if rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no DNS answer within the probe timeout")
    if rc == 2:
        return Observation(Outcome.NXDOMAIN, detail="getent: not found")
    addrs = [
        first
        for first in (_first_field(line) for line in lines(text))
        if re.fullmatch(_IPV4, first)
    ]
    if rc == 0 and addrs:
        return Observation(Outcome.OK, tuple(dict.fromkeys(addrs)))
    return Observation(
        Outcome.ERROR, detail=f"getent exited {rc}: {_first_line(text) or 'no output'}"
    )


def _first_field(line: str) -> str:
    fields = re.split(r"[ \t]+", line.strip(" \t"))
    return fields[0] if fields else ""


def _parse_python_dns(rc: int, text: str) -> Observation:
    """The python3 helper: the addresses on one line, or `gaierror CODE MESSAGE` (it echoes no name)."""
    if rc == 0:
        first = next((line for line in lines(text) if line.strip()), "")
        addrs = tuple(a for a in first.split(" ") if re.fullmatch(_IPV4, a))
        if addrs:
            return Observation(Outcome.OK, addrs)
        return Observation(
            Outcome.ERROR,
            detail=f"python3 printed no IPv4 address: {_first_line(text) or 'no output'}",
        )
    if rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no DNS answer within the probe timeout")
    for line in lines(text):
        m = re.match(r"gaierror (-?\d+) ", line)
        code = m.group(1) if m else ""
        if code in ("-2", "-5") or (
            not m and ("Name or service not known" in line or "not known" in line)
        ):
            return Observation(Outcome.NXDOMAIN, detail=_first_line(text))
        if code == "-3" or (not m and "Temporary failure" in line):
            return Observation(Outcome.TIMEOUT, detail=_first_line(text))
    return Observation(Outcome.ERROR, detail=_first_line(text) or f"python3 exited {rc}")


# nslookup's own lines (busybox and bind); the looked-up name sits in `(.+?)`, before the last ": ".
_CANT_FIND = re.compile(r"\*{2,3} (?:server )?can't find (.+?): ([^:]*)", re.IGNORECASE)
_STATUS = re.compile(r";; ->>HEADER<<-.*status: (\w+),.*|;; status: (\w+)")
_GOT_REPLY = re.compile(r";; Got (SERVFAIL|REFUSED) reply from \S+.*")
_NO_SERVER = re.compile(
    r";; (?:connection timed out.*|no servers could be reached.*|communications error.*timed out)"
)


def _parse_nslookup(rc: int, text: str) -> Observation:
    """busybox and bind nslookup. The server's own address block is skipped."""
    rows = [line.strip() for line in lines(text)]
    statuses = [
        m.group(2).strip().rstrip(".").lower() for m in (_CANT_FIND.fullmatch(r) for r in rows) if m
    ]
    header = [
        next(g for g in m.groups() if g).lower() for m in (_STATUS.fullmatch(r) for r in rows) if m
    ]
    cant_find = next((r[:200] for r in rows if _CANT_FIND.fullmatch(r)), "")
    # A "can't find" line that is no SERVFAIL and no bare "No answer" (NOERROR without a record) says the
    # name does not exist; so does a header with status NXDOMAIN.
    if "refused" in statuses or "refused" in header:
        return Observation(
            Outcome.ERROR, detail=(cant_find or "REFUSED") + ": the resolver refused to answer"
        )
    if any(st not in ("servfail", "no answer") for st in statuses) or "nxdomain" in header:
        return Observation(Outcome.NXDOMAIN, detail=cant_find or "NXDOMAIN")
    addrs: list[str] = []
    in_answer = False
    for s in rows:
        if s.startswith("Name:"):
            in_answer = True
            continue
        if in_answer and s.startswith("Address"):
            value = s.split(":", 1)[1].strip() if ":" in s else ""
            value = value.split(" ")[0] if value else ""
            if re.fullmatch(_IPV4, value):
                addrs.append(value)
    if addrs:
        return Observation(Outcome.OK, tuple(dict.fromkeys(addrs)))
    got_reply = [m.group(1) for m in (_GOT_REPLY.fullmatch(r) for r in rows) if m]
    if "servfail" in statuses or "servfail" in header or "SERVFAIL" in got_reply:
        return Observation(Outcome.SERVFAIL, detail=cant_find or "SERVFAIL: no answer")
    if (
        got_reply
    ):  # ";; Got REFUSED reply" (a REFUSED status returned ERROR above): no answer, proves nothing
        return Observation(Outcome.TIMEOUT, detail=cant_find or "REFUSED: no answer")
    if any(_NO_SERVER.fullmatch(r) or _server_failed(r) for r in rows) or rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no DNS answer within the probe timeout")
    if statuses:
        return Observation(Outcome.NXDOMAIN, detail=cant_find)
    if rc == 0 and _empty_answer(rows):
        return Observation(
            Outcome.NODATA, detail="NOERROR without an address (empty answer section)"
        )
    return Observation(
        Outcome.ERROR, detail=f"nslookup exited {rc}: {_first_line(text) or 'no output'}"
    )


def _empty_answer(rows: list[str]) -> bool:
    """busybox nslookup on a NOERROR reply with no record (Swarm's embedded DNS answers a name of a network
    the querier is not on so): its answer header, then nothing at all."""
    if "Non-authoritative answer:" not in rows:
        return False
    after = rows[rows.index("Non-authoritative answer:") :]
    return all(r in ("", "Non-authoritative answer:") for r in after)


def _server_failed(row: str) -> bool:
    """`nslookup: write to '127.0.0.11': Connection refused`, `;; ...: timed out`: the resolver did not answer."""
    return row.startswith(("nslookup:", ";;")) and _REASONS.get(_reason(row)) in (
        Outcome.REFUSED,
        Outcome.TIMEOUT,
    )


_PING_STATS = re.compile(
    r"(?:^|.*\s)(\d+) packets? transmitted, (\d+) (?:packets )?received.*", re.IGNORECASE
)
# iputils: "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable"; busybox says nothing of its own.
_PING_UNREACHABLE = re.compile(
    r"From \S+(?: \(\S+\))?(?: icmp_seq=\d+)? Destination \w+ Unreachable.*", re.IGNORECASE
)


def parse_ping(rc: int, output: str) -> Observation:
    """busybox and iputils ping: decided by the received count, not the exit code."""
    text = output.strip()
    rows = [line.strip() for line in lines(text)]
    stats = next((m for m in (_PING_STATS.fullmatch(r) for r in rows) if m), None)
    if stats and int(stats.group(2)) > 0:
        return Observation(
            Outcome.OK, detail=next(r for r in rows if _PING_STATS.fullmatch(r))[:200]
        )
    unreachable = [
        r
        for r in rows
        if _PING_UNREACHABLE.fullmatch(r)
        or (r.startswith("ping:") and _REASONS.get(_reason(r)) is Outcome.UNREACHABLE)
    ]
    if unreachable:
        named = next((r for r in unreachable if "nreachable" in r.lower()), "")
        return Observation(Outcome.UNREACHABLE, detail=named[:200] or "unreachable")
    for r in rows:
        if r.startswith("ping:") and _reason(r) in ("operation not permitted", "permission denied"):
            return Observation(Outcome.ERROR, detail=f"ping not permitted: {_first_line(text)}")
    if stats or rc in _TIMED_OUT_RC:
        return Observation(Outcome.TIMEOUT, detail="no echo reply within the probe timeout")
    return Observation(
        Outcome.ERROR, detail=f"ping exited {rc}: {_first_line(text) or 'no output'}"
    )


def _first_line(text: str) -> str:
    for line in lines(text):
        if line.strip():
            return line.strip()[:200]
    return ""
