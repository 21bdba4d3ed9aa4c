"""Output sets (spectra.outputs): whole-set replacement, locks, stale staging, targets.

The kill tests fork a child that commits a set while the parent SIGKILLs it at
stratified moments across the commit phase (slowed by SPECTRA_COMMIT_PAUSE); after each
kill the folder must hold exactly the old set or exactly the new one, and the next run
must leave no staging folder and no lock behind.
"""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from spectra.errors import SpectraError
from spectra.outputs import COMMIT_PAUSE_ENV, EXCHANGE_ENV, MANIFEST, atomic_output


def _write_set(folder: Path, tag: str, names=("a.csv", "b.png", "c.txt")) -> dict:
    files = {n: f"{tag}:{n}\n".encode() * 50 for n in names}
    for n, data in files.items():
        (folder / n).write_bytes(data)
    (folder / MANIFEST).write_text(json.dumps({"tag": tag}))
    return files


def _run(out, tag, names=("a.csv", "b.png", "c.txt"), **kw) -> dict:
    with atomic_output(out, **kw) as tmp:
        return _write_set(tmp, tag, names)


def _content(folder: Path) -> dict:
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.name != MANIFEST and not p.name.startswith(".spectra.")
    }


def _leftovers(parent: Path) -> list[str]:
    return sorted(n for n in os.listdir(parent) if ".tmp-" in n or n.endswith(".lock"))


def test_rerun_replaces_the_whole_set(tmp_path):
    out = tmp_path / "D"
    _run(out, "old", names=("a.csv", "old_only.png"))
    new = _run(out, "new", names=("a.csv", "b.png"))
    assert _content(out) == new  # old_only.png gone: never a mix of two runs
    meta = json.loads((out / MANIFEST).read_text())
    assert meta["tag"] == "new" and meta["outputs"] == ["a.csv", "b.png"]
    assert _leftovers(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["D"]


def test_failed_run_leaves_nothing_not_even_parents(tmp_path):
    out = tmp_path / "x" / "y" / "D"
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        (tmp / "f").write_text("partial")
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_rerun_leaves_the_old_set(tmp_path):
    out = tmp_path / "D"
    old = _run(out, "old")
    with pytest.raises(KeyboardInterrupt), atomic_output(out) as tmp:
        _write_set(tmp, "new", names=("a.csv",))
        raise KeyboardInterrupt
    assert _content(out) == old and _leftovers(tmp_path) == []


def test_shared_folder_keeps_foreign_files_and_drops_the_old_set(tmp_path, monkeypatch):
    """The current folder (the commands' default --out .) is never swapped away."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    _run(Path("."), "old", names=("a.csv", "old_only.png"))
    new = _run(Path("."), "new", names=("a.csv", "b.png"))
    assert _content(tmp_path) == {**new, "notes.txt": b"mine"}
    assert _leftovers(tmp_path) == []


def test_a_busy_out_is_refused_and_free_again_after(tmp_path):
    out = tmp_path / "D"
    with atomic_output(out) as tmp:
        (tmp / "f").write_text("1")
        with pytest.raises(SpectraError, match=f"in use by another spectra run .pid {os.getpid()}"):
            _run(out, "second")
        assert os.listdir(tmp_path) != []
    assert (out / "f").read_text() == "1" and _leftovers(tmp_path) == []
    _run(out, "third")


def test_next_run_removes_stale_staging(tmp_path):
    out = tmp_path / "D"
    _run(out, "old")
    for i in range(3):  # what three killed runs leave
        (tmp_path / f".D.tmp-dead{i}").mkdir()
        (tmp_path / f".D.tmp-dead{i}" / "half.png").write_text("x")
    new = _run(out, "new")
    assert _content(out) == new and _leftovers(tmp_path) == []


def test_fallback_two_renames_restored_when_cut(tmp_path, monkeypatch):
    monkeypatch.setenv(EXCHANGE_ENV, "0")
    out = tmp_path / "D"
    old = _run(out, "old")
    new = _run(out, "new")
    assert _content(out) == new and _leftovers(tmp_path) == []
    os.rename(out, tmp_path / ".D.tmp-cut.prev")  # a kill between the two renames
    (tmp_path / ".D.tmp-cut").mkdir()
    with atomic_output(out) as tmp:  # the next run puts the old set back first
        assert _content(out) == new
        _write_set(tmp, "third")
    assert _leftovers(tmp_path) == [] and old != new


def test_resume_state_kept_after_interrupt_dropped_after_failure(tmp_path):
    out = tmp_path / "D"
    with pytest.raises(KeyboardInterrupt), atomic_output(out, resume=("jobs",)) as tmp:
        (tmp / "jobs").mkdir()
        (tmp / "jobs" / "1.csv").write_text("done")
        (tmp / "plot.png").write_text("half")
        raise KeyboardInterrupt
    assert sorted(os.listdir(tmp_path)) == [".D.resume"]
    with atomic_output(out, resume=("jobs",)) as tmp:
        assert sorted(os.listdir(tmp)) == ["jobs"]  # plot.png dropped, the cache kept
        (tmp / "jobs" / "2.csv").write_text("done")
    assert sorted(os.listdir(out / "jobs")) == ["1.csv", "2.csv"]
    assert sorted(os.listdir(tmp_path)) == ["D"]
    with pytest.raises(SpectraError), atomic_output(out, resume=("jobs",)) as tmp:
        assert sorted(os.listdir(tmp / "jobs")) == ["1.csv", "2.csv"]  # seeded from D
        raise SpectraError("bad option")
    assert sorted(os.listdir(tmp_path)) == ["D"]  # created by the failed run: removed


# -- awkward targets -----------------------------------------------------------------


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@contextmanager
def _immutable(path: Path):
    if os.system(f"chattr +i {path} 2>/dev/null") != 0:
        pytest.skip("chattr +i not permitted here")
    try:
        yield
    finally:
        os.system(f"chattr -i {path}")


def _refused(out, match):
    with pytest.raises(SpectraError, match=match) as e:
        _run(out, "x")
    assert "\n" not in str(e.value)


def test_targets_refused_with_nothing_created(tmp_path):
    (tmp_path / "file").write_text("f")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing" / "deeper" / "D")
    (tmp_path / "up").symlink_to(tmp_path / "nowhere")
    before = _tree(tmp_path)
    _refused(tmp_path / "file", "exists and is not a folder")
    _refused("/dev/null", "exists and is not a folder")
    _refused(tmp_path / "dangling", "dangling symbolic link")
    _refused(tmp_path / "up" / "D", "cannot write there|not a folder")
    _refused(tmp_path / "file" / "D", "not a folder|cannot write there")
    _refused("/proc/spectra-out", "cannot write")
    _refused("/proc/self/spectra-out", "cannot write")
    _refused("/", "root")
    assert _tree(tmp_path) == before  # no symlink target's parents, no lock, no staging
    assert not Path("/proc/spectra-out").exists()


def test_read_only_and_immutable_folders_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    _run(ro / "D", "old")
    old = _content(ro / "D")
    with _immutable(ro / "D"):
        _refused(ro / "D", "cannot write to")
    with _immutable(ro):
        _refused(ro / "D", "cannot write in")
        _refused(ro / "new" / "D", "cannot write")
    assert _content(ro / "D") == old and _tree(ro) == _tree(ro)
    assert sorted(os.listdir(ro)) == ["D"]
    if os.geteuid() != 0:  # permission bits bind only non-root users
        ro.chmod(0o555)
        try:
            _refused(ro / "D", "cannot write")
        finally:
            ro.chmod(0o755)


def test_non_spectra_folder_is_used_as_a_shared_folder(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "keep.txt").write_text("k")
    new = _run(d, "new")
    assert _content(d) == {**new, "keep.txt": b"k"}


# -- kill -9 at stratified moments of the commit ---------------------------------------


def _kill_points(out: Path, n: int, pause: float, mode: str, seed: int) -> dict:
    """Commit a new set over an old one ``n`` times, SIGKILLing the committer at
    stratified moments of its commit phase; after each kill check the set and let the
    next run clean up. Returns the outcome counts."""
    rng = np.random.default_rng(seed)
    window = 6 * pause  # the commit sleeps `pause` at <= 4 steps; the rest spans the end
    seen = {"old": 0, "new": 0, "restored": 0}
    for i in range(n):
        old = _run(out, f"old{i}", names=("a.csv", "b.png", f"old{i}.txt"))
        names = ("a.csv", "b.png", f"new{i}.txt")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: commit the new set slowly
            os.close(r)
            try:
                os.environ[COMMIT_PAUSE_ENV] = str(pause)
                with atomic_output(out) as tmp:
                    new = _write_set(tmp, f"new{i}", names)
                    os.write(w, b"1")  # the commit phase starts when the body returns
            finally:
                os._exit(0)
        os.close(w)
        assert os.read(r, 1) == b"1"
        os.close(r)
        time.sleep((i + rng.uniform()) / n * window)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        new = {n_: f"new{i}:{n_}\n".encode() * 50 for n_ in names}
        if out.exists():
            got = _content(out)
            assert got in (old, new), f"kill {i}: a mixed or partial set {sorted(got)}"
            seen["old" if got == old else "new"] += 1
        else:  # only the two-rename fallback has this window; the old set is whole
            assert mode == "fallback", f"kill {i}: --out vanished"
            (prev,) = [p for p in out.parent.iterdir() if p.name.endswith(".prev")]
            assert _content(prev) == old
            seen["restored"] += 1
        with atomic_output(out) as tmp:  # the next run: recovery first
            assert _content(out) in (old, new)
            _write_set(tmp, "next")
        assert _leftovers(out.parent) == [], f"kill {i}"
    return seen


@pytest.mark.parametrize(("mode", "n"), [("exchange", 50), ("fallback", 10)])
def test_kill9_during_commit_never_mixes(tmp_path, monkeypatch, mode, n):
    if mode == "fallback":
        monkeypatch.setenv(EXCHANGE_ENV, "0")
    seen = _kill_points(tmp_path / "D", n=n, pause=0.01, mode=mode, seed=1)
    assert seen["old"] and seen["new"], seen  # the kills straddled the swap
    assert sum(seen.values()) == n


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_kill9_during_commit_never_mixes_300_points(tmp_path, monkeypatch, mode):
    if mode == "fallback":
        monkeypatch.setenv(EXCHANGE_ENV, "0")
    seen = _kill_points(tmp_path / "D", n=300, pause=0.02, mode=mode, seed=2)
    assert seen["old"] and seen["new"], seen


def test_kill9_during_shared_commit_is_rolled_forward(tmp_path, monkeypatch):
    """Shared folder: after a kill a reader sees the old run.json (old set), no run.json
    (mid-way), or the new set; the next run finishes the commit."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    rng = np.random.default_rng(3)
    n, pause = 10, 0.01
    for i in range(n):
        old = _run(Path("."), f"old{i}")
        pid = os.fork()
        if pid == 0:
            try:
                os.environ[COMMIT_PAUSE_ENV] = str(pause)
                _run(Path("."), f"new{i}")
            finally:
                os._exit(0)
        time.sleep(0.02 + (i + rng.uniform()) / n * 8 * pause)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        _check_shared(tmp_path, old, i)  # what a reader sees right after the kill
        with atomic_output(Path(".")) as tmp:  # the next run: recovery first
            assert _check_shared(tmp_path, old, i) is not None
            _write_set(tmp, "next")
        assert (tmp_path / "notes.txt").read_text() == "mine"
        assert _leftovers(tmp_path) == []


def _check_shared(folder: Path, old: dict, i: int) -> str | None:
    """With run.json present the folder holds exactly the set it names; its tag."""
    if not (folder / MANIFEST).exists():
        return None  # mid-commit: no manifest, so no reader takes it for a set
    tag = json.loads((folder / MANIFEST).read_text())["tag"]
    want = old if tag == f"old{i}" else {n: f"{tag}:{n}\n".encode() * 50 for n in old}
    assert tag in (f"old{i}", f"new{i}") and _content(folder) == {**want, "notes.txt": b"mine"}
    return tag
