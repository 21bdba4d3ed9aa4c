"""Training loop: learning, exact resumption, config checks, speed helpers.

Tiny nets on scikit-learn's 8x8 digits keep this fast (a few seconds).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from spectra.data import load_dataset
from spectra.errors import SpectraError
from spectra.training import (
    HISTORY_COLUMNS,
    TrainConfig,
    build_model,
    epoch_permutation,
    read_history,
    steps_to_accuracy,
    train,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _cfg(**kw):
    base = dict(
        dataset="digits",
        depth=3,
        channels=4,
        steps=24,
        batch_size=32,
        eval_every=6,
        eval_size=100,
        checkpoint_every=5,
        lr=1e-2,
        seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


class _Stop(KeyboardInterrupt):
    pass


def _stopper(at: int):
    done = [0]

    def progress(n):
        done[0] += n
        if done[0] == at:
            raise _Stop

    return progress


def _no_seconds(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="seconds").reset_index(drop=True)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_run_resumes_exactly(tmp_path, digits, optimizer):
    cfg = _cfg(optimizer=optimizer, lr=1e-2 if optimizer == "sgd" else 1e-3)
    ref = train(cfg, tmp_path / "ref", data=digits)
    # interrupt at step 13: the last checkpoint is step 10, rows 11..13 are on disk
    with pytest.raises(_Stop):
        train(cfg, tmp_path / "cut", data=digits, progress=_stopper(13))
    partial = read_history(tmp_path / "cut")
    assert partial["step"].max() == 13
    resumed = train(cfg, tmp_path / "cut", data=digits)
    tr = resumed[resumed["split"] == "train"]
    assert tr["step"].tolist() == list(range(1, 25))  # every step exactly once
    te = resumed[resumed["split"] == "test"]
    assert te["step"].tolist() == [0, 6, 12, 18, 24]
    # bit-identical to the uninterrupted run (wall-clock seconds aside)
    pd.testing.assert_frame_equal(_no_seconds(resumed), _no_seconds(ref), check_exact=True)
    assert list(resumed.columns) == HISTORY_COLUMNS
    assert resumed["seconds"].is_monotonic_increasing
    # the same command on a finished run changes nothing; more steps extend it
    again = train(cfg, tmp_path / "cut", data=digits)
    pd.testing.assert_frame_equal(_no_seconds(again), _no_seconds(ref), check_exact=True)
    longer = train(_cfg(optimizer=optimizer, lr=cfg.lr, steps=30), tmp_path / "cut", data=digits)
    assert longer[longer.split == "train"]["step"].tolist() == list(range(1, 31))


def test_different_config_in_same_folder_is_an_error(tmp_path, digits):
    train(_cfg(steps=5), tmp_path, data=digits)
    with pytest.raises(SpectraError, match="differs in: depth"):
        train(_cfg(steps=5, depth=4), tmp_path, data=digits)


def test_learns_digits(digits):
    """A depth-4 delta-orth net must beat chance (10%) by far within 150 SGD steps;
    82% was reached by an earlier prototype at depth 10 in 300 steps."""
    cfg = _cfg(depth=4, channels=8, steps=150, eval_every=150, eval_size=None, lr=2e-2)
    hist = train(cfg, None, data=digits)
    te = hist[hist.split == "test"]
    assert te["accuracy"].iloc[-1] > 0.6, te
    assert steps_to_accuracy(hist, 0.5, window=10) < 150


def test_same_seed_same_model_and_data_order(digits):
    a = build_model(_cfg(), digits)
    b = build_model(_cfg(), digits)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(pa, pb), na
    c = build_model(_cfg(seed=4), digits)
    assert not torch.equal(a.net.block.weight, c.net.block.weight)
    p = epoch_permutation(3, 0, 50)
    assert sorted(p.tolist()) == list(range(50))
    assert torch.equal(p, epoch_permutation(3, 0, 50))
    assert not torch.equal(p, epoch_permutation(3, 1, 50))


def test_config_validation():
    for bad, msg in [
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(init="xavier"), "init"),
        (dict(depth=0), "depth"),
        (dict(lr=-1.0), "lr"),
        (dict(q_star=0.1, sigma_b=0.1), "either"),
        (dict(dataset="svhn"), "dataset"),
    ]:
        with pytest.raises(SpectraError, match=msg):
            _cfg(**bad).validate()


def test_steps_to_accuracy_on_a_constructed_history():
    # batch accuracy 0,0.1,...,0.9,1,1...: the 3-step running mean first reaches 0.5
    # at step 7 (0.4+0.5+0.6)/3; the test split uses its own rows.
    acc = [i / 10 for i in range(10)] + [1.0] * 5
    rows = [dict(step=i + 1, split="train", accuracy=a) for i, a in enumerate(acc)]
    rows += [dict(step=5, split="test", accuracy=0.3), dict(step=10, split="test", accuracy=0.9)]
    h = pd.DataFrame(rows)
    assert steps_to_accuracy(h, 0.5, window=3) == 7
    assert steps_to_accuracy(h, 0.8, split="test") == 10
    assert math.isnan(steps_to_accuracy(h, 0.95, split="test"))


def test_resume_drops_a_line_cut_short_by_a_kill(tmp_path, digits):
    cfg = _cfg(steps=12)
    ref = train(cfg, tmp_path / "ref", data=digits)
    with pytest.raises(_Stop):
        train(cfg, tmp_path / "cut", data=digits, progress=_stopper(8))
    path = tmp_path / "cut" / "history.csv"
    path.write_text(path.read_text() + "6,0,train,2.3")  # a row cut short by the kill
    path.write_text(path.read_text() + "\n3,0,tr")  # and one with no newline at all
    resumed = train(cfg, tmp_path / "cut", data=digits)
    pd.testing.assert_frame_equal(_no_seconds(resumed), _no_seconds(ref), check_exact=True)
