"""Sweeps: keyed, resumable jobs; the same table from a local pool and a Dask cluster."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from spectra.cli import app
from spectra.sweep import job_key, run_jobs


def _square(cfg: dict) -> pd.DataFrame:
    """A job: a module-level function (picklable) returning one row."""
    return pd.DataFrame([{"x": cfg["x"], "y": cfg["x"] ** 2 / 3}])


def test_job_key_is_stable_and_order_free():
    assert job_key({"a": 1, "b": "x"}) == job_key({"b": "x", "a": 1})
    assert job_key({"a": 1}) != job_key({"a": 2})
    assert len(job_key({"a": 1})) == 16


def test_jobs_are_cached_and_resumed(tmp_path):
    configs = [{"x": i} for i in range(5)]
    calls = []

    def counting(cfg):
        calls.append(cfg["x"])
        if cfg["x"] == 3 and len(calls) < 5:
            raise RuntimeError("worker died")
        return _square(cfg)

    with pytest.raises(RuntimeError):
        run_jobs(counting, configs, tmp_path)
    assert calls == [0, 1, 2, 3] and len(list(tmp_path.glob("*.csv"))) == 3
    df = run_jobs(counting, configs, tmp_path)  # only the missing jobs run
    assert calls == [0, 1, 2, 3, 3, 4]
    assert df["x"].tolist() == [0, 1, 2, 3, 4]
    assert df["y"].tolist() == [i**2 / 3 for i in range(5)]  # exact: %.17g round-trips


def test_pool_and_dask_give_the_same_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    configs = [{"x": i} for i in range(6)]
    pool = run_jobs(_square, configs, tmp_path / "pool", workers=2)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        dask = run_jobs(_square, configs, tmp_path / "dask", scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(pool, dask, check_exact=True)


def test_correlate_sweep_local_pool_equals_dask_cluster(tmp_path):
    """A 10-job ``spectra correlate`` sweep, byte-identical tables."""
    distributed = pytest.importorskip("distributed")
    args = [
        "correlate",
        "--dataset",
        "digits",
        "--inits",
        "gaussian,orth",
        "--depths",
        "2,3,4,5,6",
        "--channels",
        "4",
        "--steps",
        "12",
        "--batch-size",
        "16",
        "--target",
        "0.2",
        "--window",
        "4",
        "--quiet",
    ]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "pool"), "--workers", "2"])
    assert res.exit_code == 0, res.output
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        res = CliRunner().invoke(
            app, [*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]
        )
    assert res.exit_code == 0, res.output
    for name in ("correlation.csv", "spearman.csv"):
        a = (tmp_path / "pool" / name).read_bytes()
        b = (tmp_path / "dask" / name).read_bytes()
        assert a == b, name
    df = pd.read_csv(tmp_path / "pool" / "correlation.csv")
    assert len(df) == 10 and set(df["init"]) == {"gaussian", "orth"}
    assert df["var_sq"].gt(0).all() and df["accuracy_after"].between(0, 1).all()


def test_unreachable_scheduler_is_one_line(tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "correlate",
            "--dataset",
            "digits",
            "--depths",
            "2,3,4",
            "--inits",
            "orth",
            "--steps",
            "2",
            "--quiet",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2 and "cannot reach the Dask scheduler" in res.stderr
    assert not (tmp_path / "o").exists()
