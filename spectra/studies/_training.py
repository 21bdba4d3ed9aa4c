"""The training studies: Jacobian conditioning vs training speed, and trainability (Fig 2).

Both are sweeps of independent jobs (:mod:`spectra.sweep`); the job functions here take a
plain dict and return a one-row DataFrame, so they run in a local pool or on a Dask
cluster unchanged.

* :func:`correlate_job`: build the net of a config (init, depth, seed), compute the
  singular values of its block's input-output Jacobian at initialisation [T21] on the
  stem features of one training image (:func:`spectra.jacobian.singular_values`), then
  train it and record how fast it learns. :func:`spearman_table` ranks the spectral
  statistics against the speed measures. Theory [T34]: the variance of s² (and the
  spread of the spectrum) grows with depth for Gaussian kernels, ``L mu2/mu1^2``, but
  stays ``L(mu2/mu1^2 - 1)`` for orthogonal ones; a better-conditioned J should train
  faster, i.e. a *positive* rank correlation with steps-to-target and a *negative* one
  with accuracy after K steps.
* :func:`trainability_job`: accuracy after K steps at (sigma_w^2, depth) off the critical
  line; :func:`fit_depth_scale` fits the c of the paper's boundary ``L = c xi_c`` [T15].
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import torch

from ..errors import SpectraError, check_choice, check_real
from ._jacobian import SPECTRAL_STATS, spectral_stats


@functools.lru_cache(maxsize=4)
def _data(name: str, data_dir: str | None):
    from ..data import load_dataset

    return load_dataset(name, data_dir)


def _train_config(cfg: dict, **over):
    from ..training import TrainConfig

    keys = {f for f in TrainConfig.__dataclass_fields__}
    args = {k: v for k, v in cfg.items() if k in keys}
    args.update(over)
    return TrainConfig(**args)


def _radial_modes(cfg: dict, s) -> int:
    """Outliers to leave out of the bulk statistics [T36]: the radial modes (1, or one per
    pixel for delta-orth) of orthogonal kernels; none for Gaussian ones (their bulk
    reaches down to the radial mode)."""
    from ..rmt import weight_law

    try:
        if weight_law(cfg["init"]) != 1:
            return 0
    except SpectraError:
        return 0
    return s.numel() // int(cfg["channels"]) if cfg["init"] == "delta-orth" else 1


def correlate_job(cfg: dict) -> pd.DataFrame:
    """One configuration of ``spectra correlate``.

    ``cfg`` holds :class:`spectra.train.TrainConfig` fields (``dataset, init, depth,
    channels, steps, lr, optimizer, batch_size, seed`` …) plus ``target`` (accuracy
    threshold), ``window`` (running-mean length) and ``data_dir``. Returns one row: the
    config, :data:`SPECTRAL_STATS` of the block's Jacobian at init (the bulk condition
    number leaves out the radial modes, see :func:`_radial_modes`), ``steps_to_target``
    (NaN if never reached), ``accuracy_after`` (running train accuracy after ``steps``)
    and ``test_accuracy``.
    """
    from ..jacobian import singular_values
    from ..training import accuracy_after, build_model, steps_to_accuracy, train

    tc = _train_config(cfg, eval_every=max(int(cfg["steps"]), 1), dtype="float32")
    data = _data(tc.dataset, cfg.get("data_dir"))
    model64 = build_model(tc, data, dtype=torch.float64)
    with torch.no_grad():
        x = model64.block_input(data.x_train[:1].to(torch.float64))
    s = singular_values(model64.net.block, x[0])
    stats = spectral_stats(
        np.log(s.detach().cpu().double().numpy()), outliers=_radial_modes(cfg, s)
    )
    del model64
    hist = train(tc, None, data=data)
    window = int(cfg.get("window", 50))
    row = {k: cfg[k] for k in sorted(cfg) if k != "data_dir"}
    row.update({k: stats[k] for k in SPECTRAL_STATS})
    row["steps_to_target"] = steps_to_accuracy(hist, float(cfg["target"]), window=window)
    row["accuracy_after"] = accuracy_after(hist, tc.steps, window=window)
    te = hist[hist["split"] == "test"]
    row["test_accuracy"] = float(te["accuracy"].iloc[-1])
    return pd.DataFrame([row])


def spearman_table(
    df: pd.DataFrame,
    *,
    stats=SPECTRAL_STATS,
    speeds=("steps_to_target", "accuracy_after"),
    censor_at: float | None = None,
) -> pd.DataFrame:
    """Spearman rank correlation of each spectral statistic with each speed measure.

    Runs that never reached the target (NaN ``steps_to_target``) are ranked as slowest
    (censored at ``censor_at``, default one more than the largest step budget).
    Columns: ``statistic, speed, rho, pvalue, n, expected_sign``.
    """
    from scipy.stats import spearmanr

    if len(df) < 3:
        raise SpectraError(f"need at least 3 configurations for a rank correlation, got {len(df)}")
    out = []
    cap = censor_at if censor_at is not None else float(df["steps"].max()) + 1
    for speed in speeds:
        y = df[speed].to_numpy(float)
        if speed == "steps_to_target":
            y = np.where(np.isnan(y), cap, y)
        for st in stats:
            x = df[st].to_numpy(float)
            if np.all(x == x[0]) or np.all(y == y[0]):
                rho, p = math.nan, math.nan
            else:
                res = spearmanr(x, y)
                rho, p = float(res.statistic), float(res.pvalue)
            out.append(
                {
                    "statistic": st,
                    "speed": speed,
                    "rho": rho,
                    "pvalue": p,
                    "n": len(df),
                    "expected_sign": 1 if speed == "steps_to_target" else -1,
                }
            )
    return pd.DataFrame(out)


def xi_c(sigma_w: float, sigma_b: float, activation: str = "tanh") -> float:
    """The correlation depth scale xi_c = -1/log chi_c* [T15] (inf on the critical line;
    a chaotic-phase chi_c* < 1 gives a finite scale too)."""
    from ..meanfield import chi_c, depth_scale

    x = float(depth_scale(chi_c(sigma_w, sigma_b, activation)))
    return x if x >= 0 else math.inf


def trainability_job(cfg: dict) -> pd.DataFrame:
    """One cell of ``spectra trainability``: train at ``sigma_w = sqrt(sigma_w2)``,
    ``sigma_b`` and ``depth`` for ``steps`` steps; one row with the config,
    ``accuracy`` (running train accuracy after the steps), ``test_accuracy``, ``xi_c``."""
    from ..training import accuracy_after, train

    sw = math.sqrt(float(cfg["sigma_w2"]))
    tc = _train_config(
        cfg, sigma_w=sw, sigma_b=float(cfg["sigma_b"]), eval_every=max(int(cfg["steps"]), 1)
    )
    data = _data(tc.dataset, cfg.get("data_dir"))
    hist = train(tc, None, data=data)
    row = {k: cfg[k] for k in sorted(cfg) if k != "data_dir"}
    row["accuracy"] = accuracy_after(hist, tc.steps, window=int(cfg.get("window", 20)))
    te = hist[hist["split"] == "test"]
    row["test_accuracy"] = float(te["accuracy"].iloc[-1])
    row["xi_c"] = xi_c(sw, float(cfg["sigma_b"]), tc.activation)
    return pd.DataFrame([row])


def fit_depth_scale(
    df: pd.DataFrame, *, value: str = "accuracy", threshold: float | None = None
) -> dict[str, float]:
    """Fit c in the boundary ``depth = c * xi_c`` to a trainability grid.

    A cell is *trainable* when ``value >= threshold`` (default: halfway between chance,
    1/10, and the best cell). c is chosen on a log grid (1e-2..1e3) to minimise the
    cells where ``depth <= c*xi_c`` disagrees with trainability; the reported c is the
    geometric middle of the best interval. Returns ``c, agreement`` (fraction of cells
    classified right), ``threshold``, ``c_low``, ``c_high``.
    """
    acc = df[value].to_numpy(float)
    thr = threshold if threshold is not None else 0.5 * (0.1 + float(np.nanmax(acc)))
    ok = acc >= thr
    depth, xi = df["depth"].to_numpy(float), df["xi_c"].to_numpy(float)
    grid = np.logspace(-2, 3, 501)
    agree = np.array([np.mean((depth <= c * xi) == ok) for c in grid])
    best = agree.max()
    idx = np.flatnonzero(agree == best)
    lo, hi = grid[idx[0]], grid[idx[-1]]
    return {
        "c": float(math.sqrt(lo * hi)),
        "agreement": float(best),
        "threshold": float(thr),
        "c_low": float(lo),
        "c_high": float(hi),
    }


def correlate_grid(
    inits: list[str],
    depths: list[int],
    seeds: list[int],
    *,
    seed: int = 0,
    q_star: float | None = None,
    data_dir: str | None = None,
    **train,
) -> list[dict]:
    """The job configurations of a correlation sweep: inits x depths x seeds (each seed
    offset by ``seed``), every one validated as a training configuration before any job
    runs. ``train``: the shared options (dataset, channels, steps, target, window, lr, ...)."""
    from ..kernels import INIT_NAMES
    from ..training import TrainConfig

    for name in inits:
        check_choice("init", name, INIT_NAMES)
    if not 0 < float(train.get("target", 1.0)) <= 1:
        raise SpectraError(f"target must be in (0, 1], got {train['target']}")
    base = dict(train)
    if q_star is not None:
        base["q_star"] = check_real("q_star", q_star, positive=True)
    configs = []
    for init in inits:
        for d in depths:
            for s in seeds:
                c = dict(base, init=init, depth=d, seed=s + seed)
                TrainConfig(
                    **{k: v for k, v in c.items() if k not in ("target", "window")}
                ).validate()
                if data_dir is not None:
                    c["data_dir"] = str(data_dir)
                configs.append(c)
    return configs


def trainability_grid(
    sigma_w2: list[float], depths: list[int], *, data_dir: str | None = None, **train
) -> list[dict]:
    """The job configurations of Fig 2's grid: depths x sigma_w^2, validated first."""
    from ..training import TrainConfig

    if not sigma_w2 or min(sigma_w2) <= 0:
        raise SpectraError(f"sigma_w^2 values must be > 0, got {sigma_w2!r}")
    check_real("sigma_b", train.get("sigma_b", 0.0), nonneg=True)
    configs = []
    for d in depths:
        for v in sigma_w2:
            c = dict(train, depth=d, sigma_w2=v)
            kw = {k: c[k] for k in c if k not in ("window", "sigma_w2")}
            TrainConfig(**kw, sigma_w=math.sqrt(v)).validate()
            if data_dir is not None:
                c["data_dir"] = str(data_dir)
            configs.append(c)
    return configs


def xi_c_curve(
    sigma_w2: tuple[float, float], sigma_b: float, c: float, seed: int, points: int = 200
) -> pd.DataFrame:
    """The trainable-depth curve c * xi_c(sigma_w, sigma_b) [T19] over ``points`` values of
    sigma_w^2 spanning ``sigma_w2 = (lo, hi)``: columns sigma_w2, xi_c, depth, seed."""
    fine = np.linspace(min(sigma_w2), max(sigma_w2), points)
    curve = pd.DataFrame({"sigma_w2": fine, "xi_c": [xi_c(math.sqrt(v), sigma_b) for v in fine]})
    curve["depth"] = c * curve["xi_c"]
    curve["seed"] = seed
    return curve
