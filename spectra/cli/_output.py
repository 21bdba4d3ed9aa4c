"""Signals for the CLI: SIGINT (Ctrl-C), SIGTERM and SIGHUP end a run the same way.

Each raises :class:`Terminated` (a ``SystemExit``, so no ``except Exception`` swallows
it) in the main thread, and the usual cleanup runs: the staging folder is removed (a
resumable run keeps its ``.<out>.resume`` state), the ``--out`` lock is released, and
the process exits with ``128 + signal number`` (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)
and one line on stderr.
A second signal during the cleanup is ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGINT, SIGTERM or SIGHUP;
    its exit code is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _raise(signum, frame) -> None:
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated(signum)


@contextmanager
def handle_signals() -> Iterator[None]:
    """Within the block SIGINT/SIGTERM/SIGHUP raise :class:`Terminated`; old handlers after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {s: signal.signal(s, _raise) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def interrupt_line(exc: Terminated) -> str:
    """The stderr line for a run ended by the signal of ``exc``."""
    return f"spectra: interrupted by {signal.Signals(exc.signum).name}"
