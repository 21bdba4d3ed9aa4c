"""Signals for the CLI: SIGTERM and SIGHUP end a run like Ctrl-C does.

Each raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main thread, so the
same cleanup runs: the staging folder is removed (a resumable run keeps its
``.<out>.resume`` state), the ``--out`` lock is released, and the process exits with
``128 + signal number`` (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) and one line on stderr.
A second signal during the cleanup is ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise(signum, frame) -> None:
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated(signum)


@contextmanager
def handle_signals() -> Iterator[None]:
    """Within the block SIGTERM/SIGHUP raise :class:`Terminated`; old handlers after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {s: signal.signal(s, _raise) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def interrupt_exit(exc: BaseException | None) -> tuple[str, int]:
    """(stderr line, exit code) for a run ended by ``exc`` (Ctrl-C or a signal)."""
    while exc is not None and not isinstance(exc, KeyboardInterrupt):
        exc = exc.__cause__ or exc.__context__
    if isinstance(exc, Terminated):
        name = signal.Signals(exc.signum).name
        return f"spectra: terminated by {name}", 128 + exc.signum
    return "spectra: interrupted", 128 + signal.SIGINT
