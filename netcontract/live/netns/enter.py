"""The netns executor: TCP-connect, ICMP-echo and DNS probes from sockets opened inside containers' namespaces.

How: a helper thread enters a container's network namespace (setns(2) on
/proc/<pid>/ns/net), creates non-blocking sockets there and goes back; a socket
keeps the namespace it was created in, so one selector on the calling thread
drives every probe of every source, with per-probe deadlines. setns never runs
on the calling thread. No exec, no subprocess, no tool output: verdicts come
from the kernel (SO_ERROR, ICMP packets) and from parsed DNS packets. Needs
root (or CAP_SYS_ADMIN) on the host whose /proc holds the containers.

What this does not prove: the packets leave from the container's network
namespace, not from its processes, so per-process rules (seccomp, LSM, a
proxy setting of the application) and the container's own resolver setup
(/etc/resolv.conf, /etc/hosts, search domains) are not exercised: DNS asks
`dns_server` (or the engine's resolver that the container's resolv.conf names, see NetnsSource) directly
for the name as given. TCP OK means a completed
handshake, not a working service; REFUSED means something answered with a
reset (a REJECT rule can do that too).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import socket
import stat
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from netcontract.addresses import ip_or_none
from netcontract.live.netns.selector import drive
from netcontract.live.netns.tasks import (
    MAX_OPEN,
    PER_TARGET,
    TOOL,
    NetnsRun,
    Stretch,
    choose_resolver,
    classify_connect,
    error_observation,
    parse_nameservers,
)
from netcontract.probe.observation import Probe

__all__ = [
    "MAX_OPEN",
    "PER_TARGET",
    "TOOL",
    "NetnsRun",
    "NetnsSource",
    "NetnsUnavailable",
    "Stretch",
    "check_access",
    "classify_connect",
    "run_netns",
]

CLONE_NEWNET = 0x40000000
_CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class NetnsSource:
    """One source for `run_netns`: the pid whose network namespace to enter and the probes to send from it."""

    key: str  # caller's id for this source (e.g. container id)
    pid: int  # the container's State.Pid on the host
    probes: tuple[Probe, ...]
    # Where else than at dns_server the engine's own resolver answers this container: the gateways of its
    # networks (Podman's aardvark-dns). The first of them that the container's own resolv.conf names, unless
    # it names dns_server, is asked instead (tasks.choose_resolver).
    resolvers: tuple[str, ...] = ()


class NetnsUnavailable(Exception):
    """Raised by `check_access` when no namespace can be entered from this process (any pid)."""


def check_access(pid: int) -> str | None:
    """None when this process can enter /proc/<pid>/ns/net (root or CAP_SYS_ADMIN, same host), else a one-line reason.

    Raises NetnsUnavailable when no namespace can be entered at all from here
    (not Linux, no setns(2), no CAP_SYS_ADMIN). The pid is only meaningful when
    the Docker engine runs on this host; the check cannot tell a pid of a remote
    engine's container from an unrelated local process.
    """
    problem = _host_problem()
    if problem is not None:
        raise NetnsUnavailable(problem)
    path = f"/proc/{pid}/ns/net"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return f"no process {pid} on this host (container stopped, or the engine runs elsewhere)"
    except OSError as exc:
        return f"cannot open {path}: {exc.strerror}"
    try:
        with ThreadPoolExecutor(
            1, thread_name_prefix="netns-check"
        ) as pool:  # its thread ends with the pool
            pool.submit(_setns, fd).result()
    except OSError as exc:
        return f"cannot enter {path}: {exc.strerror}"
    finally:
        os.close(fd)
    return None


def pid_problem(pid: int, container_id: str, name: str) -> str | None:
    """None when this process can probe from inside the container's namespace, else why not: no process, a
    pid that is not that container here (its cgroup does not name it: the engine runs elsewhere), or no
    access. Raises NetnsUnavailable when no namespace can be entered from this process at all."""
    if pid <= 0:
        return f"{name} has no process (not running)"
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as f:
            cgroup = f.read()
    except OSError:
        return f"no process {pid} on this host: the engine runs elsewhere"
    if container_id not in cgroup:
        return (
            f"process {pid} on this host is not {name}: the engine runs elsewhere "
            "(remote DOCKER_HOST, Docker Desktop, rootless)"
        )
    return check_access(pid)


def run_netns(
    sources: Sequence[NetnsSource],
    timeout: float,
    *,
    dns_server: str = "127.0.0.11",
    stretch: Stretch | None = None,
) -> NetnsRun:
    """Run every probe of every source; return a NetnsRun whose `observations` has one entry per probe.

    The result: `observations[(source.key, probe.key)]` for every probe,
    `latency_ms[...]` for every probe that got an answer, and
    `slowest_tcp_ok_ms[source.key]`: the slowest
    successful TCP connect of each source, in milliseconds.

    Each probe has `timeout` seconds from the moment it is sent, so the run ends
    at most `timeout` after the last probe was sent (probes wait in a queue while
    MAX_OPEN are in flight, or PER_TARGET to one target); one still unanswered
    halfway is sent once more within its window (see netns_engine). A source whose
    namespace cannot be entered gets ERROR for all its probes, and so does every
    probe when this process cannot enter namespaces at all: nothing raises for
    that. ValueError for a bad timeout or dns_server, or duplicate keys.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    dns = ip_or_none(dns_server)
    if dns is None:
        raise ValueError(f"dns_server must be an IP address, not {dns_server!r}")
    keys = [(s.key, p.key) for s in sources for p in s.probes]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate (source key, probe key) pairs")
    run = NetnsRun()
    problem = _host_problem()
    if problem is not None:
        run.observations = {
            (s.key, p.key): error_observation(p, problem) for s in sources for p in s.probes
        }
        return run
    soft = _raise_nofile()
    budget = max(8, min(MAX_OPEN, (soft - 4 * len(sources) - 64) // 2))
    opened: list[tuple[str, int, Sequence[Probe]]] = []
    opener = _Opener()
    try:
        for source in sources:
            try:
                fd = os.open(f"/proc/{source.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                reason = "no such process" if isinstance(exc, FileNotFoundError) else exc.strerror
                detail = f"cannot open the network namespace of pid {source.pid}: {reason}"
                for probe in source.probes:
                    run.observations[(source.key, probe.key)] = error_observation(probe, detail)
                continue
            opened.append((source.key, fd, source.probes))
        asked = {
            s.key: choose_resolver(container_nameservers(s.pid), s.resolvers, dns_server)
            for s in sources
            if s.resolvers
        }
        drive(
            run,
            opened,
            timeout,
            opener.open,
            dns=(dns, 53),
            budget=budget,
            stretch=stretch,
            resolvers={key: (server, 53) for key, server in asked.items() if server != dns_server},
        )
    finally:
        opener.close()
        for _key, fd, _probes in opened:
            os.close(fd)
    return run


def container_nameservers(pid: int) -> tuple[str, ...]:
    """The nameservers of the resolv.conf the container's processes read (through /proc/<pid>/root); () when
    it cannot be read. The container controls that file: only a regular file is read (never a FIFO or a
    device, which could block), at most 64 KiB, and what it says only chooses among the gateways the engine
    reported (tasks.choose_resolver)."""
    return read_nameservers(f"/proc/{pid}/root/etc/resolv.conf")


def read_nameservers(path: str) -> tuple[str, ...]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return ()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ()
        return parse_nameservers(os.read(fd, 65536).decode("utf-8", "replace"))
    except OSError:
        return ()
    finally:
        os.close(fd)


# -- namespaces ------------------------------------------------------------------------------


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace `fd`. Never on the main thread."""
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("setns must not run on the main thread")
    native = getattr(os, "setns", None)  # Python >= 3.12
    if native is not None:
        native(fd, CLONE_NEWNET)
    elif _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _host_problem() -> str | None:
    """Why no namespace can be entered from this process at all (None when it can)."""
    if not sys.platform.startswith("linux"):
        return "netns probes need Linux"
    if not os.path.exists("/proc/self/ns/net"):
        return "/proc/self/ns/net is missing (no /proc, or no network namespaces)"
    if getattr(os, "setns", None) is None and not hasattr(_libc(), "setns"):
        return "the C library has no setns(2)"
    if not _has_cap(_CAP_SYS_ADMIN):
        return "entering a container's network namespace needs root (CAP_SYS_ADMIN)"
    return None


def _has_cap(bit: int) -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


def _raise_nofile() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class _Opener:
    """Creates sockets inside namespaces on one helper thread, which returns home after each batch."""

    def __init__(self) -> None:
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="netns")

    def open(
        self, ns_fd: int, specs: Sequence[tuple[int, int, int]]
    ) -> list[socket.socket | OSError]:
        """One socket (or the error that prevented it) per (family, type, proto), in namespace `ns_fd`."""
        return self._pool.submit(self._create, ns_fd, specs).result()

    def _create(
        self, ns_fd: int, specs: Sequence[tuple[int, int, int]]
    ) -> list[socket.socket | OSError]:
        _setns(ns_fd)
        made: list[socket.socket | OSError] = []
        for family, kind, proto in specs:
            try:
                made.append(socket.socket(family, kind, proto))
            except OSError as exc:
                made.append(exc)
        with contextlib.suppress(
            OSError
        ):  # the thread only creates sockets, each batch after its own setns
            _setns(self._home)
        return made

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        os.close(self._home)
