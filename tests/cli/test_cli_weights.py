"""``spectra weights`` (Fig S4): files and columns of DESIGN.md, byte-identical reruns,
one-line errors with exit 2 and no output files, and (slow) the default run's timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from spectra.cli import app
from spectra.studies import KS_COLUMNS, SV_COLUMNS

SMALL = ["weights", "--size", "6", "--kernel", "3", "--channels", "2,4", "--quiet"]


def _run(args):
    return CliRunner().invoke(app, args)


def test_weights_writes_contract_files(tmp_path):
    out = tmp_path / "w"
    res = _run([*SMALL, "--seeds", "2", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ks.csv", "run.json", "singular_values.csv", "theory.csv", "weights.png"]
    sv = pd.read_csv(out / "singular_values.csv")
    assert list(sv.columns) == SV_COLUMNS  # the literal contract is checked in test_weight_spectra
    assert set(sv["kind"]) == {"conv", "dense"} and set(sv["seed"]) == {3, 4}
    assert len(sv) == 2 * 2 * (2 * 6 + 4 * 6)  # kinds x seeds x sum of N = c n
    th = pd.read_csv(out / "theory.csv")
    assert list(th.columns) == ["law", "x", "density"]
    ks = pd.read_csv(out / "ks.csv")
    assert list(ks.columns) == KS_COLUMNS
    assert len(ks) == 8 and ks["ks"].between(0, 1).all()
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 3 and meta["dtype"] == "float64"
    assert (out / "weights.png").stat().st_size > 10_000


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, seed in ((a, "1"), (b, "1"), (c, "2")):
        assert _run([*SMALL, "--seed", seed, "--out", str(folder)]).exit_code == 0
    for name in ("singular_values.csv", "ks.csv", "theory.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "singular_values.csv").read_bytes() != (c / "singular_values.csv").read_bytes()


def test_prints_ks_table(tmp_path):
    res = _run(
        ["weights", "--size", "5", "--kernel", "3", "--channels", "2", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0
    assert "KS distance" in res.stdout and "conv" in res.stdout


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--kernel", "4"], "--kernel"),
        (["--kernel", "0"], "--kernel"),
        (["--size", "0"], "--size"),
        (["--channels", "0,2"], "--channels"),
        (["--channels", "two"], "--channels"),
        (["--dim", "3"], "--dim"),
        (["--seeds", "0"], "--seeds"),
        (["--dtype", "float16"], "dtype"),
        (["--device", "tpu"], "device"),
        (["--dim", "2", "--size", "200"], "refused before starting"),
        (["--bogus"], "bogus"),
    ],
)
def test_bad_input_one_line_exit_2_no_files(tmp_path, extra, needle):
    """One line naming the problem, exit code 2, no traceback, no files."""
    res = _run(["weights", "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spectra: error:") and needle in lines[0]
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_defaults_finish_within_60_s(tmp_path):
    """The default run (c = 2..64, 1D, n = 26, k = 5), start-up included, in
    a fresh process, under 60 s; and the KS distance falls as c grows (first vs last)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from spectra.cli import main; main()",
            "weights",
            "--quiet",
            "--out",
            str(tmp_path),
        ],
        check=True,
        env=env,
    )
    assert time.perf_counter() - t0 < 60
    ks = pd.read_csv(tmp_path / "ks.csv").set_index(["kind", "channels"])["ks"]
    for kind in ("conv", "dense"):
        assert ks[kind, 64] < ks[kind, 16] < ks[kind, 2]
