"""`watch` and `serve`: follow the engine after a check. Registered on the main group in cli/main.py.

Exit codes: 0 when stopped by SIGTERM, 130 on Ctrl-C, 1 with --exit-on-fail once a check FAILs,
and the usual 2/3/4 for usage, an engine that cannot be read at all, or an invalid contract.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from netcontract import sanitize
from netcontract.cli.common import InputFile, probe_options, run_options, user_errors
from netcontract.errors import UsageError
from netcontract.results import ExitCode, Verdict

if TYPE_CHECKING:  # the live package is imported on use
    from netcontract.live.watch import Update


def _watch_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "-c",
                "--contract",
                "contract_path",
                required=True,
                type=InputFile(),
                help="Contract YAML file.",
            ),
            click.option(
                "--project",
                metavar="NAME",
                help="Compose project name (overrides `project:` in the contract).",
            ),
            click.option(
                "--interval",
                type=click.FloatRange(min=0),
                default=300,
                show_default=True,
                metavar="SECONDS",
                help="A full check this often, events or not (firewall rules change without an engine "
                "event); 0: only on events.",
            ),
            click.option(
                "--settle",
                type=click.FloatRange(min=0.05, max=10),
                default=0.2,
                show_default=True,
                metavar="SECONDS",
                help="Quiet time that ends a burst of events (a `compose up` is dozens): "
                "one re-check per burst.",
            ),
            click.option(
                "--grace",
                type=click.FloatRange(min=0, max=600),
                default=30,
                show_default=True,
                metavar="SECONDS",
                help="How long a stopped or `starting` container of a touched service is "
                "waited for before its checks run (a restart is not a failure).",
            ),
        ]
    ):
        f = option(f)
    return probe_options(f)


def _options(
    project: str | None,
    interval: float,
    settle: float,
    grace: float,
    probes: bool,
    executor: str,
    probe_image: str,
    helper_image: str | None,
    require_trusted: bool,
    pull: bool,
    timeout: float,
    retries: int,
    concurrency: int,
) -> Any:
    from netcontract.live.checker import CheckOptions
    from netcontract.live.watch import WatchOptions

    run = run_options(
        executor, timeout, retries, concurrency, probe_image, pull, helper_image, require_trusted
    )
    return WatchOptions(
        CheckOptions(project=project, probes=probes, run=run),
        settle=settle,
        burst_max=max(2.0, settle * 4),
        grace=grace,
        interval=interval,
    )


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM stops the loop cleanly (exit 0): how systemd and `docker stop` end a watcher."""

    def handler(signum: int, frame: object) -> None:
        stop.set()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("watch")
@_watch_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per verdict that changes; json: one JSON object per line, with the JSON "
    "report's result fields plus previous, event and time.",
)
@click.option(
    "--exit-on-fail",
    is_flag=True,
    help="Exit 1 as soon as a check FAILs (the first check included).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Also a line for every re-check that changed nothing."
)
def watch_cmd(
    contract_path: str,
    project: str | None,
    interval: float,
    settle: float,
    grace: float,
    fmt: str,
    exit_on_fail: bool,
    verbose: bool,
    **probing: Any,
) -> None:
    """Check, then follow the engine's events and re-check what they change.

    \b
    A full check first; then every burst of engine events (networks:
    connect, disconnect, create, destroy; containers: start, die, restart,
    rename, health) re-runs the structural rules and the probes from and to
    the services it touched, and prints one line per verdict that changed:
      12:03:04 PASS->FAIL isolation:frontend->db:5432@data_tier: ... [network connect: ...]
    A full check also runs every --interval. When the engine goes away, watch
    says so, reconnects with backoff and checks everything again.

    \b
    Stop it with Ctrl-C (exit 130) or SIGTERM (exit 0).
    """
    from netcontract.live.watch import Watcher

    options = _options(project, interval, settle, grace, **probing)
    stop = threading.Event()
    failed = threading.Event()

    def on_update(update: Update) -> None:
        _print_update(update, fmt, verbose)
        if exit_on_fail and any(r.verdict is Verdict.FAIL for r in update.report.results):
            failed.set()
            stop.set()

    def on_status(line: str) -> None:
        click.echo(sanitize.line(f"watch: {line}"), err=True)

    with user_errors("netcontract: interrupted; probe containers removed"), _stop_on_sigterm(stop):
        watcher = Watcher(contract_path, options)
        watcher.run(on_update, on_status, stop)
    sys.exit(int(ExitCode.VIOLATED) if failed.is_set() else 0)


@click.command("serve")
@_watch_options
@click.option(
    "--listen",
    default="127.0.0.1:9477",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to answer HTTP (loopback by default; 0.0.0.0 only behind something that needs it).",
)
def serve_cmd(
    contract_path: str,
    project: str | None,
    interval: float,
    settle: float,
    grace: float,
    listen: str,
    **probing: Any,
) -> None:
    """Watch the contract and answer /, /healthz, /report.json and /metrics over HTTP.

    \b
      /             the latest report as an HTML page (as check --html writes it)
      /healthz      200 while the contract holds, else 503 with the failing ids
      /report.json  the latest JSON report (netcontract schema --report)
      /metrics      Prometheus exposition: a gauge per check and verdict,
                    check and probe durations, events seen, last full check
    Read-only: no other path or method, no input. Stop with Ctrl-C or SIGTERM.
    """
    from netcontract.live.serve import Latest, make_server
    from netcontract.live.watch import Watcher

    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise click.BadParameter(
            f"{listen!r}: want HOST:PORT, e.g. 127.0.0.1:9477", param_hint="--listen"
        )
    options = _options(project, interval, settle, grace, **probing)
    latest = Latest()
    stop = threading.Event()
    with user_errors("netcontract: interrupted; probe containers removed"), _stop_on_sigterm(stop):
        watcher = Watcher(contract_path, options)
        try:
            server = make_server(host.strip("[]"), int(port_text), latest)
        except OSError as exc:
            raise UsageError(f"--listen {listen}: {exc.strerror or exc}") from None
        bound_host, bound_port = server.server_address[:2]
        click.echo(
            f"serve: http://{bound_host!s}:{bound_port}/ /healthz /report.json /metrics", err=True
        )

        def on_status(line: str) -> None:
            latest.note(line)
            click.echo(sanitize.line(f"serve: {line}"), err=True)

        loop = threading.Thread(
            target=_serve_loop, args=(watcher, latest, on_status, stop), name="watch", daemon=True
        )
        web = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        web.start()
        loop.start()
        try:
            while loop.is_alive() and not stop.is_set():
                loop.join(0.2)
        finally:
            stop.set()
            server.shutdown()
            server.server_close()
            loop.join(30)  # a check in flight removes its probe containers before the thread ends
    sys.exit(0)


def _serve_loop(watcher: Any, latest: Any, on_status: Any, stop: threading.Event) -> None:
    try:
        watcher.run(latest.update, on_status, stop)
    except Exception as exc:  # a loop that dies says why and stops serve
        on_status(f"stopped: {type(exc).__name__}: {exc}")
        stop.set()


def _print_update(update: Update, fmt: str, verbose: bool) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(update.at))
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(update.at))
    if fmt == "json":
        from netcontract.report.json_report import result_dict

        for change in update.changes:
            row: dict[str, Any] = (
                result_dict(change.result) if change.result else {"id": change.id, "verdict": None}
            )
            row.update(
                previous=change.before.value if change.before else None,
                event=update.cause,
                time=when,
            )
            click.echo(json.dumps(row))
        if not update.changes and (
            verbose or (update.full and update.cause != "periodic full check")
        ):
            s = update.report.summary
            click.echo(
                json.dumps(
                    {
                        "event": update.cause,
                        "time": when,
                        "changes": 0,
                        "checks": len(update.report.results),
                        "passed": s.passed,
                        "failed": s.failed,
                        "errors": s.errors,
                    }
                )
            )
        return
    s = update.report.summary
    if update.full and (update.cause != "periodic full check" or verbose or update.changes):
        held = "contract holds" if not s.failed and not s.errors else "contract does not hold"
        click.echo(
            sanitize.line(
                f"{stamp} {update.cause}: {held}: {len(update.report.results)} checks, "
                f"{s.passed} passed, {s.failed} failed, {s.errors} errors "
                f"({update.report.duration:.2f} s)"
            )
        )
    for change in update.changes:
        cause = "" if update.cause == "initial check" else update.cause
        click.echo(sanitize.line(f"{stamp} {change.line(cause)}"))
    if verbose and not update.changes and not update.full:
        click.echo(
            sanitize.line(
                f"{stamp} re-checked {', '.join(sorted(update.services)) or 'the structure'} "
                f"after {update.cause}: no change ({update.report.duration:.2f} s)"
            )
        )
