"""`spectra jacobian --model FILE.py:FACTORY`: the ResNet example's files, --output,
--init, and one-line errors for bad model specs, shapes and module names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from spectra.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments" / "jacobian_models.py"
RESNET = ["--model", f"{EXAMPLES}:small_resnet", "--input-shape", "3,16,16", "--quiet"]


def _run(args):
    return CliRunner().invoke(app, ["jacobian", *args])


@pytest.mark.parametrize(
    "method, table", [("auto", "singular_values.csv"), ("lanczos", "density.csv")]
)
def test_resnet_example_writes_files(tmp_path, method, table):
    out = tmp_path / method
    extra = ["--lanczos-steps", "6", "--probes", "2"] if method == "lanczos" else []
    res = _run([*RESNET, "--method", method, "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {table, "summary.csv", "jacobian.png", "run.json"}
    summary = pd.read_csv(out / "summary.csv")
    assert summary["n"].iloc[0] == 10  # J is 10 x 768: ten singular values


def test_output_module_vs_dense_jacfwd(tmp_path):
    """--output layer1 on the example: its singular values are those of the truncated
    nn.Sequential's one-shot jacfwd (float64, 1e-10 of s_max: QR/SVD rounding)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ex", EXAMPLES)
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    res = _run(
        [
            "--model", f"{EXAMPLES}:small_resnet", "--input-shape", "2,4,4", "--quiet",
            "--output", "layer1", "--method", "stable", "--dtype", "float64",
            "--out", str(tmp_path / "o"),
        ]
    )  # fmt: skip
    assert res.exit_code == 2  # the stem wants 3 channels: a shape error, one line
    assert len(res.output.strip().splitlines()) == 1
    res = _run(
        [*RESNET, "--output", "layer1", "--method", "stable", "--dtype", "float64",
         "--out", str(tmp_path / "o")]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "o" / "singular_values.csv")["singular_value"].to_numpy()
    model = ex.small_resnet().double()
    trunc = torch.nn.Sequential(*list(model)[:3])
    g = torch.Generator().manual_seed(0)
    x = torch.randn((1, 3, 16, 16), generator=g, dtype=torch.float64)
    j = torch.func.jacfwd(trunc)(x).reshape(-1, x.numel()).detach().numpy()
    ref = np.linalg.svd(j, compute_uv=False)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * ref[0])


def test_init_orth_makes_linear_head_an_isometry():
    from spectra.cli.model_spec import apply_init

    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Linear(6, 9))
    assert apply_init(model, "orth", sigma_w=1.5, sigma_b=0.0, seed=0) == 2
    w = model[1].weight.detach().double()
    # dense-orth: orthonormal columns times sigma_w, to float32 rounding
    np.testing.assert_allclose((w.T @ w).numpy(), 2.25 * np.eye(6), atol=1e-5)
    assert float(model[1].bias.detach().abs().max()) == 0.0


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "nofile.py:f", "--input-shape", "3,16,16"],
        ["--model", f"{EXAMPLES}", "--input-shape", "3,16,16"],
        ["--model", f"{EXAMPLES}:nothere", "--input-shape", "3,16,16"],
        ["--model", f"{EXAMPLES}:small_resnet", "--input-shape", "3,x"],
        ["--model", f"{EXAMPLES}:small_resnet", "--input-shape", "5,16,16"],
        ["--model", f"{EXAMPLES}:small_resnet", "--input-shape", "3,16,16", "--output", "l9"],
        ["--model", f"{EXAMPLES}:small_resnet"],
        ["--model", f"{EXAMPLES}:small_resnet", "--input-shape", "3,16,16", "--method", "dense"],
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, args):
    out = tmp_path / "o"
    res = _run([*args, "--quiet", "--out", str(out)])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert "Traceback" not in res.output
    assert not out.exists()
