"""Output sets: a run's files appear in their folder all at once, or not at all.

:func:`atomic_output` is the one protocol every command (and experiment) writes through.
The run writes into a staging folder; on success the whole set replaces ``out``.

Dedicated folder (``out`` is new, empty, or holds a previous spectra set: a ``run.json``
whose ``outputs`` list names every other entry). The staging folder ``.<name>.tmp-*``
sits beside ``out`` and is swapped in with one ``renameat2(RENAME_EXCHANGE)`` (Linux
>= 3.15), then the old set is deleted. A kill at any instant leaves ``out`` as it was or
complete, and a rerun never mixes old and new files. Where the exchange is unavailable
(other systems, file systems without it, or ``SPECTRA_RENAME_EXCHANGE=0``) two renames
are used: ``out`` -> ``.<name>.tmp-*.prev``, staging -> ``out``; a kill between them
leaves ``out`` briefly absent, and the next run on it renames the old set back first.

Shared folder (``out`` holds files spectra did not write, e.g. the default ``--out .``,
or is the current directory). Staging, lock and resume state live inside it as
``.spectra.*``. The commit writes a journal into the staging folder, removes the old
``run.json``, the old set's other files and moves the new files in, ``run.json`` last.
A kill during the moves is rolled forward by the next run on the folder, so a reader
that waits for ``run.json`` never sees a mixed set; use a dedicated folder for a set
that is atomic at every instant.

Every run holds an exclusive lock (``flock`` on ``.<name>.lock``, or ``.spectra.lock``
in a shared folder; removed when the run ends) from before it reads resume state until
its set is in place: a second run on a busy ``out`` is refused (one line, exit 2).
Holding the lock, a run first removes the staging folders of killed runs.

Resumable runs (``resume=`` names, e.g. training's ``checkpoint.pt``/``history.csv``, a
sweep's ``jobs``) stage in ``.<name>.resume`` instead: seeded with copies of those
entries from ``out``, kept after a kill or an interrupt (Ctrl-C, SIGTERM) so that the
same command continues, discarded when a run that created it fails, and committed with
the set. Nothing is fsynced except the folder after the swap: the protocol covers
killed processes, not power loss.

``SPECTRA_COMMIT_PAUSE`` (seconds) sleeps between the commit's steps, for fault tests.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import SpectraError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock (documented above)
    fcntl = None

__all__ = ["atomic_output", "COMMIT_PAUSE_ENV", "EXCHANGE_ENV", "MANIFEST"]

#: Environment variable: seconds to sleep between the commit's steps (fault tests).
COMMIT_PAUSE_ENV = "SPECTRA_COMMIT_PAUSE"
#: Environment variable: "0" forces the two-rename fallback instead of the exchange.
EXCHANGE_ENV = "SPECTRA_RENAME_EXCHANGE"
#: The run record; its ``outputs`` list marks a folder as a spectra output set.
MANIFEST = "run.json"
_JOURNAL = ".commit"
_SHARED = ".spectra"


@dataclass(frozen=True)
class _Target:
    label: str  # --out as given, for messages
    path: Path  # absolute folder the set lands in
    shared: bool  # True: staging/lock inside ``path``; False: beside it
    base: Path  # where lock, staging and resume state live
    prefix: str  # ".<name>" or ".spectra"

    @property
    def lock(self) -> Path:
        return self.base / f"{self.prefix}.lock"

    @property
    def resume(self) -> Path:
        return self.base / f"{self.prefix}.resume"


def _pause() -> None:
    seconds = os.environ.get(COMMIT_PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))


def _outputs_of(folder: Path) -> list[str] | None:
    """The ``outputs`` list of ``folder/run.json``; None without one."""
    try:
        listed = json.loads((folder / MANIFEST).read_text()).get("outputs")
    except (OSError, ValueError, AttributeError):
        return None
    return [str(x) for x in listed] if isinstance(listed, list) else None


def _is_shared(path: Path) -> bool:
    """True if ``path`` holds entries no spectra set listed, or is (above) the cwd."""
    real, cwd = Path(os.path.realpath(path)), Path(os.path.realpath(os.getcwd()))
    if real == cwd or real in cwd.parents:
        return True
    entries = {e for e in os.listdir(path) if not e.startswith(_SHARED + ".")}
    if not entries:
        return False
    listed = _outputs_of(path)
    return listed is None or not entries - {MANIFEST} <= set(listed)


def _target(out: str | os.PathLike) -> _Target:
    """Where the set of ``out`` goes; one-line SpectraError for an impossible target."""
    label = os.fspath(out)
    raw = Path(out)
    if raw.is_symlink():
        if not raw.exists():
            raise SpectraError(
                f"--out {label} is a dangling symbolic link (to {os.readlink(raw)}); "
                "give a folder or a new path"
            )
        raw = Path(os.path.realpath(raw))
    path = Path(os.path.abspath(raw))
    if path.parent == path:
        raise SpectraError(f"--out {label} is the file-system root; give a folder below it")
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise SpectraError(f"--out {label} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise SpectraError(f"--out {label} is a folder this process cannot write to")
        if _is_shared(path):
            return _Target(label, path, True, path, _SHARED)
    return _Target(label, path, False, path.parent, f".{path.name}")


def _make_base(t: _Target) -> list[Path]:
    """Create the missing folders above ``t.base`` and it; the ones created, top first."""
    missing = []
    p = t.base
    while not p.exists() and not p.is_symlink():
        missing.append(p)
        p = p.parent
    if not p.is_dir():
        raise SpectraError(f"--out {t.label}: {p} is not a folder")
    created = []
    for d in reversed(missing):
        d.mkdir()
        created.append(d)
    if not os.access(t.base, os.W_OK | os.X_OK):
        raise SpectraError(f"--out {t.label}: cannot write in {t.base}")
    return created


def _remove_created(created: list[Path]) -> None:
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            return


def _lock(t: _Target) -> int | None:
    """An exclusive, non-blocking flock on ``t.lock``; SpectraError if another run holds it."""
    if fcntl is None:  # pragma: no cover
        return None
    while True:
        fd = os.open(t.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise SpectraError(
                f"--out {t.label} is in use by another spectra run (pid {holder}); "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(t.lock))
        except FileNotFoundError:
            same = False
        if same:  # not unlinked by the previous holder between our open and flock
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)


def _unlock(t: _Target, fd: int | None) -> None:
    if fd is None:  # pragma: no cover
        return
    try:
        os.unlink(t.lock)  # while still holding it: a waiter re-checks the inode
    except OSError:
        pass
    os.close(fd)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _recover(t: _Target) -> None:
    """Holding the lock: undo or finish what killed runs left, then remove their staging."""
    stale = sorted(n for n in os.listdir(t.base) if n.startswith(f"{t.prefix}.tmp-"))
    prev = [n for n in stale if n.endswith(".prev")]
    if prev and not t.path.exists():  # fallback swap cut between its two renames
        os.rename(t.base / prev[-1], t.path)
        stale.remove(prev[-1])
    for name in stale:
        p = t.base / name
        if (p / _JOURNAL).is_file():  # shared-folder commit cut mid-way: finish it
            _roll_forward(t, p)
        _remove(p)


def _mkdtemp(t: _Target) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f"{t.prefix}.tmp-", dir=t.base))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the set gets ordinary permissions
    return tmp


def _stage(t: _Target, resume: tuple[str, ...]) -> tuple[Path, bool]:
    """(staging folder, whether this run created it)."""
    if not resume:
        return _mkdtemp(t), True
    if t.resume.is_dir():  # a killed or interrupted run's state: keep only what resumes
        for name in os.listdir(t.resume):
            if name not in resume:
                _remove(t.resume / name)
        return t.resume, False
    tmp = _mkdtemp(t)
    for name in resume:
        src = t.path / name
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, tmp / name, symlinks=True)
        elif src.is_file():
            shutil.copy2(src, tmp / name)
    os.rename(tmp, t.resume)
    return t.resume, True


def _write_manifest(staging: Path) -> list[str]:
    """Add the ``outputs`` list to ``staging/run.json`` (if any); the set's entries."""
    entries = sorted(e for e in os.listdir(staging) if e not in (MANIFEST, _JOURNAL))
    run = staging / MANIFEST
    if run.is_file():
        meta = json.loads(run.read_text())
        if isinstance(meta, dict):
            meta["outputs"] = entries
            tmp = staging / f".{MANIFEST}.tmp"
            tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
            os.replace(tmp, run)
    return entries


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Defer SIGINT/SIGTERM/SIGHUP (to after the block) so a rename pair is not split."""
    block = getattr(signal, "pthread_sigmask", None)
    sigs = {signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
    old = block(signal.SIG_BLOCK, sigs) if block else None
    try:
        yield
    finally:
        if block:
            block(signal.SIG_SETMASK, old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False if unavailable."""
    if os.environ.get(EXCHANGE_ENV) == "0" or not sys.platform.startswith("linux"):
        return False
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:  # glibc < 2.28
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def _commit_swap(t: _Target, staging: Path) -> None:
    _write_manifest(staging)
    _pause()
    if staging == t.resume:  # a fixed name must not end up holding the old set
        moved = t.base / f"{t.prefix}.tmp-{secrets.token_hex(4)}"
        os.rename(staging, moved)
        staging = moved
        _pause()
    old = None
    with _signals_blocked():
        if t.path.exists():
            if _exchange(staging, t.path):
                old = staging
            else:
                old = staging.with_name(staging.name + ".prev")
                os.rename(t.path, old)
                _pause()
                os.rename(staging, t.path)
        else:
            os.rename(staging, t.path)
        _fsync_dir(t.base)
    _pause()
    if old is not None:
        _remove(old)


def _commit_shared(t: _Target, staging: Path) -> None:
    entries = _write_manifest(staging)
    old = set(_outputs_of(t.path) or ())
    has_manifest = (staging / MANIFEST).exists()
    moves = entries + ([MANIFEST] if has_manifest else [])
    gone = old - set(entries) - {MANIFEST}
    plan = {"remove": sorted(gone if has_manifest else gone | {MANIFEST}), "move": moves}
    tmp = staging / f"{_JOURNAL}.tmp"
    tmp.write_text(json.dumps(plan))
    os.replace(tmp, staging / _JOURNAL)  # the commit point: from here on, roll forward
    _pause()
    _roll_forward(t, staging)
    _remove(staging)


def _roll_forward(t: _Target, staging: Path) -> None:
    """Apply (or finish applying) a shared-folder commit; every step is idempotent."""
    plan = json.loads((staging / _JOURNAL).read_text())
    if MANIFEST in plan["move"] and (staging / MANIFEST).exists():
        (t.path / MANIFEST).unlink(missing_ok=True)  # the old set is no longer whole
    for name in plan["remove"]:
        _remove(t.path / name)
    for name in plan["move"]:
        src, dst = staging / name, t.path / name
        if not (src.exists() or src.is_symlink()):
            continue  # moved before the kill
        if dst.is_dir() and not dst.is_symlink():
            _remove(dst)
        os.replace(src, dst)
        _pause()


@contextmanager
def atomic_output(out: str | os.PathLike, *, resume: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a staging folder; when the body returns, its contents become ``out``'s set.

    ``out`` is replaced as a whole (see the module doc for shared folders); if the body
    raises, the staging folder is removed and ``out`` is untouched (not even created).
    ``resume``: entry names carried over from ``out`` into a persistent staging folder
    (kept after an interrupt, for the rerun). SpectraError (one line) for a target that
    cannot be written, or one another run holds.
    """
    resume = tuple(resume)
    created: list[Path] = []
    try:
        t = _target(out)
        created = _make_base(t)
        fd = _lock(t)
    except OSError as e:
        _remove_created(created)
        raise SpectraError(f"--out {os.fspath(out)}: cannot write there ({e.strerror})") from None
    except BaseException:
        _remove_created(created)
        raise
    done = False
    try:
        if t.path.exists() and _is_shared(t.path) != t.shared:
            raise SpectraError(f"--out {t.label} changed while the run started; run it again")
        _recover(t)
        staging, fresh = _stage(t, resume)
        try:
            yield staging
        except BaseException as e:
            interrupted = isinstance(e, (KeyboardInterrupt, SystemExit))  # Ctrl-C, signals
            if not resume or (fresh and not interrupted):
                _remove(staging)
            raise
        try:
            (_commit_shared if t.shared else _commit_swap)(t, staging)
        except OSError as e:
            _remove(staging)
            raise SpectraError(f"--out {t.label}: cannot put the results in place ({e})") from None
        done = True
    finally:
        _unlock(t, fd)
        if not done:
            _remove_created(created)
