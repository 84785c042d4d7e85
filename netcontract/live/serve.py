"""`serve`: the watch loop behind a small read-only HTTP server.

- `GET /`: the HTML page of the latest report (report/html.py), rendered per request, with its
  Content-Security-Policy as a header too; 503 and a short page before the first check has finished;
- `GET /healthz`: 200 while the contract holds, 503 with the failing (and erroring) ids otherwise, and
  503 before the first check has finished;
- `GET /report.json`: the latest JSON report (the same schema as `check --json`);
- `GET /metrics`: the Prometheus exposition (report/metrics.py).
Nothing else: no other path, no other method, no input; a query string is ignored. It binds to
loopback unless told otherwise. The watch loop runs in a thread of its own; the handlers read the
latest picture under a lock.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from netcontract.live.watch import Update
from netcontract.report.metrics import WatchStats
from netcontract.results import Report, Verdict


class Latest:
    """The latest picture and the loop's figures, shared between the watch thread and the handlers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.report: Report | None = None
        self.stats = WatchStats()
        self.status = "starting"

    def update(self, update: Update) -> None:
        """Record a re-check (the watch loop's on_update)."""
        with self._lock:
            scope = "full" if update.full else "partial"
            rechecks = dict(self.stats.rechecks)
            rechecks[scope] = rechecks.get(scope, 0) + 1
            self.stats = replace(
                self.stats,
                check_duration=update.report.duration,
                rechecks=rechecks,
                events=self.stats.events + update.events,
                connected=True,
                full_check_duration=update.report.duration
                if update.full
                else self.stats.full_check_duration,
                last_full=update.at if update.full else self.stats.last_full,
            )
            self.report = update.report

    def note(self, line: str) -> None:
        """Record the loop's state (the watch loop's on_status)."""
        with self._lock:
            self.status = line
            connected = line.startswith(("following", "engine back"))
            self.stats = replace(self.stats, connected=connected)

    def read(self) -> tuple[Report | None, WatchStats, str]:
        """The report, figures and status as one consistent snapshot."""
        with self._lock:
            return self.report, self.stats, self.status


def health(report: Report | None) -> tuple[int, str]:
    """/healthz: the status code and body for the latest report."""
    if report is None:
        return 503, "no check has finished yet\n"
    bad = [r.id for r in report.results if r.verdict in (Verdict.FAIL, Verdict.ERROR)]
    if not bad:
        return 200, f"ok: contract holds ({len(report.results)} checks)\n"
    shown = "\n".join(bad[:200]) + (f"\n... and {len(bad) - 200} more" if len(bad) > 200 else "")
    return 503, f"contract does not hold: {len(bad)} checks failed or could not run\n{shown}\n"


def page(report: Report | None) -> tuple[int, bytes, str, dict[str, str]]:
    """`/`: status, body, content type and extra headers: the latest report's HTML page, or 503 before one."""
    from netcontract.report import html

    ctype, headers = (
        "text/html; charset=utf-8",
        {"Content-Security-Policy": html.CSP, "X-Content-Type-Options": "nosniff"},
    )
    if report is None:
        body = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>netcontract serve</title>'
            "</head><body><p>No check has finished yet: reload in a moment.</p></body></html>\n"
        )
        return 503, body.encode(), ctype, headers
    return 200, html.render(report).encode(), ctype, headers


def make_server(host: str, port: int, latest: Latest) -> ThreadingHTTPServer:
    """The HTTP server (not yet serving); port 0 picks a free one (server.server_address tells)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "netcontract"
        sys_version = ""

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            report, stats, _status = latest.read()
            headers: dict[str, str] = {}
            if path in ("/", "/index.html"):
                code, data, ctype, headers = page(report)
            elif path == "/healthz":
                code, text = health(report)
                data, ctype = text.encode(), "text/plain; charset=utf-8"
            elif path == "/report.json":
                if report is None:
                    code, data, ctype = (
                        503,
                        b"no check has finished yet\n",
                        "text/plain; charset=utf-8",
                    )
                else:
                    from netcontract.report import json_report

                    code, data, ctype = 200, json_report.render(report).encode(), "application/json"
            elif path == "/metrics":
                from netcontract.report.metrics import render

                code, data, ctype = (
                    200,
                    render(report, stats),
                    "text/plain; version=0.0.4; charset=utf-8",
                )
            else:
                code, data, ctype = (
                    404,
                    b"not found: /, /healthz, /report.json, /metrics\n",
                    "text/plain",
                )
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: a scrape every few seconds is not news

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
