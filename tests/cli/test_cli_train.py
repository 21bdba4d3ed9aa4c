"""``spectra train / correlate / trainability`` through the CLI (typer CliRunner)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

import spectra.cli.train as cli_train
from spectra.cli import app
from spectra.errors import SpectraError

TINY = [
    "train",
    "--dataset",
    "digits",
    "--depth",
    "2",
    "--channels",
    "4",
    "--steps",
    "30",
    "--batch-size",
    "16",
    "--eval-every",
    "10",
    "--eval-size",
    "50",
    "--checkpoint-every",
    "7",
    "--seed",
    "5",
    "--device",
    "cpu",
    "--quiet",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def _hist(folder) -> pd.DataFrame:
    return pd.read_csv(folder / "history.csv").drop(columns="seconds")


def test_train_writes_history_checkpoint_and_curve(tmp_path):
    res = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"history.csv", "checkpoint.pt", "learning_curve.png", "run.json"} <= names
    h = _hist(tmp_path / "o")
    assert h[h.split == "train"]["step"].tolist() == list(range(1, 31))
    assert h[h.split == "test"]["step"].tolist() == [0, 10, 20, 30]
    assert (h["seed"] == 5).all()
    meta = json.loads((tmp_path / "o" / "run.json").read_text())
    assert meta["seed"] == 5 and meta["config"]["depth"] == 2


def test_ctrl_c_then_same_command_resumes_every_step_once(tmp_path, monkeypatch):
    """In-process: Ctrl-C at step 17 (last checkpoint: 14), rerun."""
    ref = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "ref")])
    assert ref.exit_code == 0, ref.output

    @contextlib.contextmanager
    def interrupting(description, total, quiet):
        seen = [0]

        def advance(n=1):
            seen[0] += n
            if seen[0] == 17:
                raise KeyboardInterrupt

        yield advance

    monkeypatch.setattr(cli_train, "progress_bar", interrupting)
    cut = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "cut")])
    assert cut.exit_code == 130 and not (tmp_path / "cut").exists()
    # the resume state waits beside --out, outside the (absent) output set
    assert pd.read_csv(tmp_path / ".cut.resume" / "history.csv")["step"].max() == 17
    monkeypatch.undo()
    again = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "cut")])
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(
        _hist(tmp_path / "cut"), _hist(tmp_path / "ref"), check_exact=True
    )


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_sigkill_then_same_command_resumes(tmp_path, sig):
    """Resumption after a real kill -9 (or SIGTERM: exit 143) of a ``spectra train``."""
    args = [sys.executable, "-c", "from spectra.cli import main; main()", *TINY[:-1]]
    args[args.index("30")] = "3000"
    out = tmp_path / "k"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([*args, "--threads", "1", "--quiet", "--out", str(out)], env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        h = tmp_path / ".k.resume" / "history.csv"  # the resume state beside --out
        if h.exists() and len(h.read_text().splitlines()) > 300:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    assert proc.wait() == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    n_before = pd.read_csv(tmp_path / ".k.resume" / "history.csv")["step"].max()
    assert not out.exists()
    assert n_before < 3000, "the run finished before it could be killed"
    subprocess.run([*args, "--threads", "1", "--quiet", "--out", str(out)], env=env, check=True)
    h = pd.read_csv(out / "history.csv")
    assert h[h.split == "train"]["step"].tolist() == list(range(1, 3001))
    assert sorted(os.listdir(tmp_path)) == ["k"]  # no resume state, staging or lock left


def test_train_errors_are_one_line_and_write_nothing(tmp_path):
    cases = [
        (["--optimizer", "rmsprop"], "optimizer"),
        (["--init", "xavier"], "init"),
        (["--device", "tpu"], "device"),
        (["--q-star", "0.1", "--sigma-b", "0.1"], "either"),
    ]
    for extra, word in cases:
        res = CliRunner().invoke(app, [*TINY, *extra, "--out", str(tmp_path / "o")])
        assert res.exit_code == 2, (extra, res.output)
        assert word in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(
        app,
        [*TINY[:2], "mnist", *TINY[3:], "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2 and "mnist not found" in res.stderr
    # an --out holding another run
    assert CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "r")]).exit_code == 0
    res = CliRunner().invoke(app, [*TINY, "--depth", "3", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "differs in: depth" in res.stderr
    assert sorted(os.listdir(tmp_path)) == ["r"]  # the refused run left no resume state


def test_second_train_on_a_busy_out_is_refused(tmp_path):
    """Two runs with different seeds cannot both pass the resume check: the lock on
    --out is taken before it, and a busy --out is refused."""
    from spectra.outputs import atomic_output

    with atomic_output(tmp_path / "o", resume=("checkpoint.pt", "history.csv")):
        res = CliRunner().invoke(app, [*TINY, "--seed", "7", "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and "in use by another spectra run" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["o"] and os.listdir(tmp_path / "o") == []


def test_trainability_tiny_grid(tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "trainability",
            "--dataset",
            "digits",
            "--sigma-w2",
            "0.5,1.3",
            "--depths",
            "2,4",
            "--channels",
            "4",
            "--steps",
            "5",
            "--batch-size",
            "16",
            "--quiet",
            "--out",
            str(tmp_path / "t"),
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "t" / "trainability.csv")
    assert len(df) == 4 and df["xi_c"].gt(0).all()
    fit = pd.read_csv(tmp_path / "t" / "fit.csv")
    assert fit["c"].iloc[0] > 0 and 0 <= fit["agreement"].iloc[0] <= 1
    assert (tmp_path / "t" / "trainability.png").exists()
    bad = CliRunner().invoke(
        app, ["trainability", "--sigma-w2", "a,b", "--out", str(tmp_path / "b")]
    )
    assert bad.exit_code == 2 and "--sigma-w2" in bad.stderr


def test_correlate_fixed_q_star(tmp_path):
    # --q-star puts every depth at the critical point for that q*: the rows carry it, and
    # the Jacobian statistics at init are those of a different net than at q* = 1/depth.
    base = ["correlate", "--dataset", "digits", "--inits", "orth", "--depths", "2,4,8"]
    base += ["--channels", "4", "--steps", "2", "--batch-size", "16", "--window", "2"]
    base += ["--quiet"]
    res = CliRunner().invoke(app, [*base, "--q-star", "0.5", "--out", str(tmp_path / "q")])
    assert res.exit_code == 0, res.output
    fixed = pd.read_csv(tmp_path / "q" / "correlation.csv")
    assert fixed["q_star"].tolist() == [0.5, 0.5, 0.5]
    res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    default = pd.read_csv(tmp_path / "d" / "correlation.csv")
    assert "q_star" not in default
    # depth 8 at q* = 0.5 is far more nonlinear than at q* = 1/8: a wider spectrum
    assert fixed["var_sq_norm"].iloc[2] > 2 * default["var_sq_norm"].iloc[2]
    for bad in ("0", "-1", "inf", "nan"):
        res = CliRunner().invoke(app, [*base, "--q-star", bad, "--out", str(tmp_path / "b")])
        assert res.exit_code == 2 and "--q-star" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()


def test_failures_inside_the_run_leave_nothing(tmp_path, monkeypatch):
    """A run that diverges mid-way and a sweep whose job refuses its init fail after the
    output protocol started: the resume state they created is removed with the staging.
    (--lr is bounded up front, so divergence is simulated: the loop raises after writing a
    checkpoint, as the real divergence check does.)"""
    import spectra.training as training

    real = training.train

    def diverging(cfg, folder, **kw):
        real(dataclasses.replace(cfg, steps=7), folder, **kw)
        assert (folder / "checkpoint.pt").exists()  # the failure comes after real state
        raise SpectraError("training diverged at step 8 (simulated)")

    monkeypatch.setattr(training, "train", diverging)
    res = CliRunner().invoke(app, [*TINY, "--out", str(tmp_path / "d")])
    assert res.exit_code == 2 and "diverged" in res.stderr, res.output
    monkeypatch.setattr(training, "train", real)
    sweep = ["correlate", "--inits", "gaussian,bogus", "--depths", "2", "--steps", "2", "-q"]
    res = CliRunner().invoke(app, [*sweep, "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "bogus" in res.stderr, res.output
    assert os.listdir(tmp_path) == []
