"""`spectra density`: files, columns, determinism, one-line errors with exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from spectra import rmt
from spectra.cli import app

CONTRACT = ["weights", "activation", "depth", "sigma_w", "sigma_b", "q_star", "lambda", "density"]


def _run(args):
    return CliRunner().invoke(app, ["density", *args])


def test_density_writes_csv_png_and_run_json(tmp_path):
    out = tmp_path / "d"
    res = _run(
        [
            "--weights",
            "orth",
            "--depth",
            "8",
            "--points",
            "200",
            "--out",
            str(out),
            "--seed",
            "5",
            "--quiet",
        ]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["density.csv", "density.png", "run.json"]
    df = pd.read_csv(out / "density.csv")
    assert list(df.columns[:8]) == CONTRACT and len(df) == 200
    assert (df["seed"] == 5).all() and (df["depth"] == 8).all()
    assert df["q_star"].iloc[0] == pytest.approx(1 / 8)  # default operating point q* = 1/L
    # The CSV is the normalised frame: times the raw mass it is the density that an
    # independent jacobian_density call solves at the same points (Newton tol ~1e-9;
    # atol 1e-12 for the far tail, where the density is ~1e-11 and continuation differs).
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 5 and abs(meta["mass_before_normalising"] - 1) < 1e-3
    lam = df["lambda"].to_numpy()[50:150:20]
    ref = rmt.jacobian_density(lam, depth=8, weights="orth", q_star=1 / 8)
    got = df["density"].to_numpy()[50:150:20] * meta["mass_before_normalising"]
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


def test_density_is_deterministic(tmp_path):
    args = [
        "--weights",
        "gaussian",
        "--depth",
        "5",
        "--sigma-w",
        "1.2",
        "--sigma-b",
        "0.1",
        "--points",
        "100",
        "--quiet",
    ]
    assert _run([*args, "--out", str(tmp_path / "a")]).exit_code == 0
    assert _run([*args, "--out", str(tmp_path / "b")]).exit_code == 0
    a = (tmp_path / "a" / "density.csv").read_bytes()
    assert a == (tmp_path / "b" / "density.csv").read_bytes()


def test_linear_orthogonal_point_mass_row(tmp_path):
    out = tmp_path / "p"
    res = _run(
        [
            "--weights",
            "orth",
            "--depth",
            "3",
            "--activation",
            "linear",
            "--sigma-w",
            "1.5",
            "--sigma-b",
            "0",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "density.csv")
    assert len(df) == 1 and df["atom"].iloc[0] == 1.0
    assert df["lambda"].iloc[0] == pytest.approx(1.5**6, rel=1e-14)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--weights", "orth", "--depth", "0"], "--depth"),
        (["--weights", "orth", "--depth", "4", "--q-star", "0"], "q-star"),
        (["--weights", "orth", "--depth", "4", "--q-star", "-0.5"], "q-star"),
        (["--weights", "orth", "--depth", "4", "--activation", "swish"], "activation"),
        (["--weights", "uniform", "--depth", "4"], "weights"),
        (
            [
                "--weights",
                "orth",
                "--depth",
                "4",
                "--q-star",
                "0.1",
                "--sigma-w",
                "1",
                "--sigma-b",
                "0",
            ],
            "q-star",
        ),
        (["--weights", "orth", "--depth", "4", "--sigma-w", "1.1"], "sigma"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_files(tmp_path, args, needle):
    out = tmp_path / "x"
    res = _run([*args, "--out", str(out)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spectra: error:") and needle in lines[0]
    assert "Traceback" not in res.output
    assert not out.exists()
