"""CLI: ``spectra meanfield``, ``spectra phase``, ``spectra modes`` (DESIGN contracts)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from spectra import meanfield as mf
from spectra.cli import app

COLUMNS = [
    "activation",
    "sigma_w",
    "sigma_b",
    "q_star",
    "c_star",
    "chi_1",
    "chi_c",
    "chi_q",
    "xi_c",
    "xi_q",
]


def _run(args):
    return CliRunner().invoke(app, args)


def test_meanfield_critical_writes_design_columns(tmp_path):
    out = tmp_path / "o"
    res = _run(["meanfield", "--critical", "--sigma-b", "0.05", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "meanfield.csv")
    assert list(df.columns) == COLUMNS and len(df) == 1
    r = df.iloc[0]
    assert abs(r.sigma_w - 1.1225390048) < 1e-9 and abs(r.chi_1 - 1) < 1e-9
    assert abs(r.q_star - 0.1536919358) < 1e-9 and r.c_star == 1.0
    assert "q_star" in res.stdout and "1.122539005" in res.stdout
    assert json.loads((out / "run.json").read_text())["critical"] is True


def test_meanfield_point_matches_library(tmp_path):
    out = tmp_path / "o"
    res = _run(
        [
            "meanfield",
            "--sigma-w",
            "1.5",
            "--sigma-b",
            "0.5",
            "--activation",
            "erf",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    r = pd.read_csv(out / "meanfield.csv").iloc[0]
    ref = mf.mean_field(1.5, 0.5, "erf")
    for k in COLUMNS[1:]:
        assert r[k] == pytest.approx(ref[k], rel=1e-15)  # %.17g round-trips float64


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--sigma-w", "0", "--sigma-b", "0.1"], "--sigma-w must be > 0"),
        (["--sigma-w", "-1", "--sigma-b", "0.1"], "--sigma-w must be > 0"),
        (["--sigma-w", "nan", "--sigma-b", "0.1"], "finite"),
        (["--sigma-w", "1", "--sigma-b", "nan"], "finite"),
        (["--sigma-w", "1", "--sigma-b", "-0.1"], "--sigma-b must be >= 0"),
        (["--sigma-w", "1", "--sigma-b", "0.1", "--activation", "swish"], "unknown --activation"),
        (["--sigma-b", "0.1"], "--critical"),
        (["--sigma-w", "1"], "--sigma-b"),
        (["--critical", "--sigma-w", "1", "--sigma-b", "0.1"], "not both"),
        (["--critical", "--sigma-b", "0.1", "--activation", "relu"], "no critical point"),
    ],
)
def test_meanfield_bad_input_one_line_exit_2_no_files(tmp_path, args, needle):
    out = tmp_path / "o"
    res = _run(["meanfield", *args, "--out", str(out)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spectra: error:") and needle in lines[0]
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_phase_small_grid(tmp_path):
    out = tmp_path / "p"
    res = _run(["phase", "--points", "12", "--out", str(out), "--quiet", "--seed", "3"])
    assert res.exit_code == 0, res.output
    grid = pd.read_csv(out / "phase.csv")
    assert len(grid) == 144 and set(grid.phase) == {"ordered", "chaotic"}
    assert (grid.seed == 3).all()
    line = pd.read_csv(out / "critical_line.csv")
    assert {"q_star", "sigma_w2", "sigma_b2"} <= set(line.columns)
    assert (out / "phase.png").stat().st_size > 10_000


def test_phase_bad_range(tmp_path):
    res = _run(
        ["phase", "--sigma-w2-min", "3", "--sigma-w2-max", "2", "--out", str(tmp_path / "p")]
    )
    assert res.exit_code == 2 and "sigma-w2" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_modes_default_gs_family(tmp_path):
    out = tmp_path / "m"
    res = _run(["modes", "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "modes.csv")
    assert sorted(df.name.unique()) == ["gs0", "gs1", "gs2", "gs3", "gs4"]
    assert len(df) == 5 * 64
    mins = df.groupby("name").abs_lambda.min()
    assert mins["gs0"] == 1.0 and abs(mins["gs1"] - 2 / 3) < 1e-12
    assert (out / "modes.png").exists()


def test_modes_custom_vector_with_chi(tmp_path):
    out = tmp_path / "m"
    res = _run(
        [
            "modes",
            "--variance",
            "0.025,0.95,0.025",
            "--dim",
            "1",
            "--size",
            "10",
            "--sigma-w",
            "1.5",
            "--sigma-b",
            "0.5",
            "--activation",
            "erf",
            "--out",
            str(out),
        ]
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "modes.csv")
    assert len(df) == 10
    chi = mf.chi_c(1.5, 0.5, "erf")
    assert df.chi_c.iloc[0] == pytest.approx(chi, rel=1e-15)
    assert df["xi"].iloc[0] == pytest.approx(mf.depth_scale(chi), rel=1e-15)


@pytest.mark.parametrize(
    "args",
    [
        ["--variance", "0.5,0.5"],
        ["--variance", "a,b,c", "--dim", "1"],
        ["--kernel", "4"],
        ["--init", "gs9"],
        ["--sigma-w", "1.5"],
    ],
)
def test_modes_bad_input(tmp_path, args):
    res = _run(["modes", *args, "--out", str(tmp_path / "m")])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
