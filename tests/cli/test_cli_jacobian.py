"""`spectra jacobian`: outputs, determinism, theory columns, one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spectra.cli import app
from spectra.jacobian import native_available

SMALL = ["--depth", "40", "--channels", "4", "--size", "4", "--quiet"]


def _run(args):
    return CliRunner().invoke(app, ["jacobian", *args])


def test_writes_three_files_and_same_seed_same_bytes(tmp_path):
    outs = []
    # the first run with theory columns, the second without: identical singular values
    for name, theory in (("a", []), ("b", ["--no-theory"])):
        out = tmp_path / name
        res = _run([*SMALL, "--init", "orth", "--seed", "3", "--out", str(out), *theory])
        assert res.exit_code == 0, res.output
        assert {p.name for p in out.iterdir()} >= {
            "singular_values.csv",
            "summary.csv",
            "jacobian.png",
            "run.json",
        }
        outs.append(out)
    a, b = outs
    assert (a / "singular_values.csv").read_bytes() == (b / "singular_values.csv").read_bytes()
    # summary: identical except the wall time and the theory columns (off in run b)
    sa, sb = pd.read_csv(a / "summary.csv"), pd.read_csv(b / "summary.csv")
    drop = ["seconds", "theory_mean_sq", "theory_var_sq", "ks", "w1_log", "ks_all", "w1_log_all"]
    # and the outlier theory [T36] with what depends on it (the bulk's statistics)
    drop += ["n_outliers", "theory_log_s_outlier", "bulk_factor"]
    drop += ["log10_condition_bulk", "log_s_bulk_min"]
    pd.testing.assert_frame_equal(sa.drop(columns=drop), sb.drop(columns=drop))
    c = tmp_path / "c"  # the same seed again, with theory: byte-identical summary but time
    assert _run([*SMALL, "--init", "orth", "--seed", "3", "--out", str(c)]).exit_code == 0
    sc = pd.read_csv(c / "summary.csv")
    pd.testing.assert_frame_equal(sa.drop(columns="seconds"), sc.drop(columns="seconds"))
    assert (a / "singular_values.csv").read_bytes() == (c / "singular_values.csv").read_bytes()
    # a different seed gives different singular values
    c = tmp_path / "d"
    args = [*SMALL, "--init", "orth", "--seed", "4", "--no-theory", "--out", str(c)]
    assert _run(args).exit_code == 0
    assert (a / "singular_values.csv").read_bytes() != (c / "singular_values.csv").read_bytes()


def test_columns_and_theory(tmp_path):
    out = tmp_path / "o"
    res = _run([*SMALL, "--init", "orth", "--out", str(out), "--dtype", "float64"])
    assert res.exit_code == 0, res.output
    sv = pd.read_csv(out / "singular_values.csv")
    assert list(sv.columns) == [
        "init",
        "activation",
        "depth",
        "channels",
        "size",
        "kernel",
        "dim",
        "sigma_w",
        "sigma_b",
        "q_star",
        "dtype",
        "method",
        "seed",
        "index",
        "singular_value",
        "log_singular_value",
    ]
    assert len(sv) == 64 and (sv["seed"] == 0).all()
    assert np.all(np.diff(sv["singular_value"]) <= 0)
    np.testing.assert_allclose(
        np.log(sv["singular_value"]), sv["log_singular_value"], rtol=0, atol=1e-12
    )
    s = pd.read_csv(out / "summary.csv").iloc[0]
    for col in (
        "n",
        "mean_sq",
        "var_sq",
        "s_max",
        "s_min",
        "log10_condition",
        "theory_mean_sq",
        "theory_var_sq",
        "ks",
        "seconds",
        "method_reason",
    ):
        assert col in s.index
    # default operating point: critical, q* = 1/depth [T16]
    assert math.isclose(s["q_star"], 1 / 40, rel_tol=1e-9)
    # [T34]: mean of s^2 is chi_1^L = 1 at criticality
    assert math.isclose(s["theory_mean_sq"], 1.0, rel_tol=1e-6)
    assert math.isclose(s["mean_sq"], np.mean(sv["singular_value"] ** 2), rel_tol=1e-12)
    assert 0 <= s["ks"] <= 1
    assert s["method"] == "forward" and s["method_reason"].startswith("auto")


def test_no_theory_and_explicit_point(tmp_path):
    out = tmp_path / "o"
    res = _run(
        [
            *SMALL,
            "--init",
            "delta-orth",
            "--sigma-w",
            "1",
            "--sigma-b",
            "0",
            "--activation",
            "linear",
            "--no-theory",
            "--method",
            "stable",
            "--out",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    sv = pd.read_csv(out / "singular_values.csv")
    assert np.max(np.abs(sv["singular_value"] - 1)) < 1e-12  # exact isometry [T9]
    s = pd.read_csv(out / "summary.csv").iloc[0]
    assert math.isnan(s["theory_mean_sq"]) and s["method"] == "stable"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--depth", "0"], "--depth"),
        (["--method", "magic"], "--method"),
        (["--channels", "0"], "--channels"),
        (["--init", "orth", "--kernel", "4"], "--kernel"),
        (["--init", "nope"], "--init"),
        (["--q-star", "0.1", "--sigma-w", "1.2"], "q"),
        (["--method", "dense", "--channels", "64", "--size", "8"], "dense"),
        (["--dtype", "float16"], "dtype"),
    ],
)
def test_bad_input_one_line_exit_2_no_files(tmp_path, args, needle):
    out = tmp_path / "o"
    res = _run(["--depth", "5", "--channels", "2", "--size", "2", *args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spectra: error:"), res.stderr
    assert needle in lines[0]
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not native_available(), reason="native kernel not built")
def test_native_push_is_deterministic_and_recorded(tmp_path):
    # c = 16 orth layers take the native factored push (two threads over batch slices):
    # the same seed still gives the same bytes, and run.json says which route ran.
    import json

    # --native on: the native kernel even where the conv route is faster on this CPU
    args = ["--depth", "20", "--channels", "16", "--size", "4", "--quiet", "--no-theory"]
    args += ["--native", "on"]
    outs = []
    for name, init, method in (
        ("a", "orth", "forward"),
        ("b", "orth", "forward"),
        ("g", "gaussian", "forward"),
        ("d", "orth", "dense"),
    ):
        out = tmp_path / name
        res = _run([*args, "--init", init, "--seed", "2", "--out", str(out), "--method", method])
        assert res.exit_code == 0, res.output
        outs.append(out)
    a, b, g, d = outs
    assert json.loads((d / "run.json").read_text())["native_push"] == "none"
    assert (a / "singular_values.csv").read_bytes() == (b / "singular_values.csv").read_bytes()
    assert json.loads((a / "run.json").read_text())["native_push"] == "factored"
    assert json.loads((g / "run.json").read_text())["native_push"] == "taps"


def test_native_option_auto_follows_the_cpu_and_refuses_other_values(tmp_path):
    import json

    from spectra.jacobian import native_preferred

    args = ["--depth", "4", "--channels", "16", "--size", "4", "--quiet", "--no-theory"]
    res = _run([*args, "--init", "orth", "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    want = "factored" if native_preferred() else "none"
    assert json.loads((tmp_path / "a" / "run.json").read_text())["native_push"] == want
    res = _run([*args, "--native", "maybe", "--out", str(tmp_path / "b")])
    assert res.exit_code == 2 and "--native" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()
