"""Probe output parsers: batch output -> one `Observation` per probe. Pure.

Outcomes are read from what the tools print (busybox, bind and glibc
resolvers; busybox/openbsd/traditional nc, ncat, bash /dev/tcp, python3;
busybox and iputils ping); an exit code only decides where the output is
silent. A probe that printed nothing is an ERROR, never a pass.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netcontract.probe.observation import Observation, Outcome, Probe, ProbeKind


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
    missing = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("@@missing ")]
    out: dict[str, Observation] = {}
    for p in probes:
        tool = batch.tools.get(p.kind.value, "")
        if missing:
            out[p.key] = Observation(Outcome.ERROR, detail=f"the container has no {', '.join(missing)}", tool=tool)
        elif tool == "none":
            out[p.key] = Observation(Outcome.ERROR, detail=f"no tool for a {p.kind.value} probe in this container")
        elif p.key not in batch.per_probe:
            out[p.key] = Observation(Outcome.ERROR, detail="no result from the probe script", tool=tool)
        else:
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
