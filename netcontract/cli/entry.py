"""The console script's first code: Ctrl-C at any moment, start-up included, is one line and exit 130,
and output that cannot be written (a full disk, a closed or broken stdout) is one line and exit 3.

Nothing but the standard library is imported before the `try`: importing click, pydantic and the
commands takes about 0.2 s, and a Ctrl-C in that time was a traceback. What is left is the
interpreter's own start-up and the console script's first lines, before this module runs (about
20 ms, measured by tests/unit/test_hostile_signals.py): a SIGINT there is Python's (killed by the
signal, or its KeyboardInterrupt traceback).
"""

from __future__ import annotations

import errno
import os
import sys

INTERRUPTED = 130  # ExitCode.INTERRUPTED and NOT_EVALUATED (results.py), without importing anything
NOT_EVALUATED = 3  # before the `try` below: tests/unit/test_hostile_signals.py checks they agree


def run() -> None:
    """`netcontract ...`: the click group, with the two exits above around it."""
    try:
        _guard_stdout()
        from netcontract.cli.main import main

        try:
            main()
        finally:
            flush_stdout()
    except KeyboardInterrupt:
        _leave("netcontract: interrupted", INTERRUPTED)
    except (
        OSError
    ) as exc:  # outside a command (--help, --version on a full disk): click lets it through
        if exc.errno not in _io_errnos():
            raise
        _leave(f"netcontract: cannot write output: {exc.strerror or exc}", NOT_EVALUATED)


def _io_errnos() -> frozenset[int]:
    from netcontract.errors import IO_ERRNOS

    return IO_ERRNOS


def _guard_stdout() -> None:
    """A stdout closed before start (`netcontract lint ... >&-`) is None in Python, and click then
    prints nothing and exits 0: make it a stream whose writes fail, so the output is an error."""
    if sys.stdout is None:
        sys.stdout = _Closed()


class _Closed:
    encoding = "utf-8"
    errors = "strict"

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def flush_stdout() -> None:
    """Flush stdout now, while a failure can still be reported: at interpreter exit it would be
    `Exception ignored ...` and exit 120."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as exc:
        _leave(
            f"netcontract: cannot write to standard output: {exc.strerror or exc}", NOT_EVALUATED
        )


def _leave(line: str, code: int) -> None:
    try:
        # stdout can no longer be flushed at exit: point it at /dev/null so the interpreter says nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, AttributeError, ValueError):
        pass
    os._exit(code)
