"""Checkpoint safety: only tensors and plain types are read back; anything else in
--out is refused with one line, and a crafted pickle never runs."""

from __future__ import annotations

import pickle

import pytest
import torch
from typer.testing import CliRunner

from spectra.cli import app
from spectra.data import load_dataset
from spectra.errors import SpectraError
from spectra.training import TrainConfig, load_checkpoint, read_history, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _cfg(**kw):
    base = dict(dataset="digits", depth=2, channels=8, steps=6, batch_size=32, eval_every=3,
                eval_size=50, checkpoint_every=2, seed=1)  # fmt: skip
    return TrainConfig(**{**base, **kw})


class _Marker:
    """Unpickling this writes a marker file (what an attacker's payload would do)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_checkpoint_holds_plain_types_and_loads_weights_only(tmp_path, digits):
    train(_cfg(), tmp_path, data=digits)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 6 and isinstance(state["config"], dict)
    # the same file through torch's restricted unpickler directly
    torch.load(tmp_path / "checkpoint.pt", weights_only=True)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "pickle", "wrong_fields"])
def test_bad_checkpoint_is_refused_and_a_pickle_never_runs(tmp_path, digits, kind):
    train(_cfg(steps=2), tmp_path, data=digits)
    ckpt, marker = tmp_path / "checkpoint.pt", tmp_path / "marker"
    if kind == "garbage":
        ckpt.write_bytes(b"\x00not a checkpoint" * 10)
    elif kind == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:300])
    elif kind == "pickle":
        torch.save({"config": {}, "payload": _Marker(marker)}, ckpt)
    else:
        torch.save({"config": {}, "step": "x"}, ckpt)
    with pytest.raises(SpectraError, match="checkpoint"):
        train(_cfg(steps=4), tmp_path, data=digits)
    assert not marker.exists()
    res = CliRunner().invoke(app, _argv(tmp_path))
    assert res.exit_code == 2, res.output
    assert not marker.exists()


def test_raw_pickle_checkpoint_never_runs(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(pickle.dumps(_Marker(tmp_path / "marker")))
    with pytest.raises(SpectraError):
        load_checkpoint(tmp_path / "checkpoint.pt")
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("text", ["garbage\n1,2,3\n", "", "step,epoch\n"])
def test_bad_history_is_refused(tmp_path, digits, text):
    train(_cfg(steps=2), tmp_path, data=digits)
    (tmp_path / "history.csv").write_text(text)
    with pytest.raises(SpectraError, match="history"):
        train(_cfg(steps=4), tmp_path, data=digits)
    assert CliRunner().invoke(app, _argv(tmp_path)).exit_code == 2


def test_stale_tmp_is_removed_and_resume_is_exact(tmp_path, digits):
    ref = train(_cfg(), tmp_path / "ref", data=digits)
    train(_cfg(steps=3), tmp_path / "run", data=digits)
    (tmp_path / "run" / "checkpoint.pt.tmp").write_bytes(b"half a write")
    got = train(_cfg(), tmp_path / "run", data=digits)
    assert not (tmp_path / "run" / "checkpoint.pt.tmp").exists()
    cols = [c for c in ref.columns if c != "seconds"]
    assert got[cols].equals(ref[cols])
    tr = read_history(tmp_path / "run").query("split == 'train'")
    assert list(tr["step"]) == list(range(1, 7))  # every step exactly once


def _argv(out):
    return ["train", "--out", str(out), "--dataset", "digits", "--depth", "2", "--channels",
            "8", "--steps", "4", "--batch-size", "32", "--eval-every", "3", "--eval-size",
            "50", "--checkpoint-every", "2", "--seed", "1", "--quiet"]  # fmt: skip
