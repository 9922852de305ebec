"""Leave the process without tearing the interpreter down, where a command asked for it.

A command that has built a million-row frame and written its files has nothing left to
do, but Python would still free every object and array one by one on the way out: for
`grade-labs` that was about a tenth of what a person waits for. The command asks
(``skip_teardown``) once its output is written and closed; only the console entry
point (``aewatch.cli.main``) acts on it, after flushing the standard streams, so a test
that calls the Typer app in process is never cut short.
"""

from __future__ import annotations

import contextlib
import os
import sys

_requested = False


def skip_teardown() -> None:
    """Called by a command when everything it writes is written and closed."""
    global _requested
    _requested = True


def exit_now_if_asked(code: object) -> None:
    """Exit with ``code`` at once if a command asked to; otherwise return."""
    if not _requested:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to flush
            stream.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
