"""The Jacobian benchmark script runs end to end at tiny sizes (CPU and the GPU row set)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_jac", ROOT / "benchmarks/jacobian.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--rows", "peers,lanczos-full"], ["--gpu-rows"]])
def test_benchmark_smoke(tmp_path, extra):
    out = tmp_path / "b.csv"
    _bench().main(["--smoke", "--out", str(out), *extra])
    df = pd.read_csv(out)
    assert list(df.columns) == _bench().COLUMNS
    assert (df["seconds"].dropna() > 0).all() and len(df) >= 3
    assert (out.with_suffix(".json")).exists()
