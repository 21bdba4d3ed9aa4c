"""Tables and theory columns for Jacobian spectra (the CLI's and experiments' back end).

Turns a :class:`spectra.jacobian.SpectrumResult` into the DESIGN tables:
``singular_values.csv`` (one row per singular value), ``summary.csv`` (one row), and,
for Lanczos, ``density.csv`` (``lambda, density, source``), with the free-probability
columns from :mod:`spectra.rmt` ([T29], [T34]): ``theory_mean_sq``, ``theory_var_sq``,
``ks`` (KS distance of the bulk's s^2 to the bulk law, in log lambda), ``w1_log``
(Wasserstein-1 distance of log s^2, bulk), ``ks_all`` / ``w1_log_all`` (every value
against the law), and the outlier columns of mean field ([T36]): ``n_outliers`` (radial
modes below the law's support) and ``theory_log_s_outlier`` (their predicted log s).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import SpectraError

CONFIG_COLUMNS = (
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
)


def sv_frame(log_s: np.ndarray, config: dict, *, method: str, seed: int) -> pd.DataFrame:
    """One row per singular value: the config columns, ``index`` (0 = largest),
    ``singular_value`` (exp of the log; 0/inf where it under/overflows float64) and
    ``log_singular_value`` (natural log, exact)."""
    n = len(log_s)
    with np.errstate(over="ignore", under="ignore"):
        s = np.exp(log_s)
    df = pd.DataFrame({k: [config[k]] * n for k in CONFIG_COLUMNS if k in config})
    df["method"] = method
    df["seed"] = seed
    df["index"] = np.arange(n)
    df["singular_value"] = s
    df["log_singular_value"] = log_s
    return df[[*CONFIG_COLUMNS, "index", "singular_value", "log_singular_value"]]


def theory_frame(config: dict, points: int = 800):
    """The free-probability density frame of J J^T for ``config`` (or None if the theory
    does not apply, e.g. an activation it does not know)."""
    from ..errors import SpectraError
    from ..rmt import density_frame

    try:
        return density_frame(
            config["depth"],
            config["init"],
            sigma_w=config["sigma_w"],
            sigma_b=config["sigma_b"],
            activation=config["activation"],
            points=points,
        )
    except (SpectraError, ValueError, ArithmeticError, RuntimeError):
        return None


def _theory_moments(config: dict) -> tuple[float, float]:
    from ..errors import SpectraError
    from ..rmt import theory_moments

    try:
        m, v = theory_moments(
            config["depth"],
            config["init"],
            sigma_w=config["sigma_w"],
            sigma_b=config["sigma_b"],
            activation=config["activation"],
        )
        return float(m), float(v)
    except (SpectraError, ValueError, ArithmeticError, RuntimeError):
        return math.nan, math.nan


#: The statistics that the training studies rank (:func:`spectral_stats` also returns
#: ``log_s_max``, ``log_s_min`` and ``log_s_bulk_min``).
SPECTRAL_STATS = (
    "mean_sq",
    "var_sq",
    "var_sq_norm",
    "log10_condition",
    "log10_condition_bulk",
    "s_max",
    "s_min",
)


def spectral_stats(log_s, *, outliers: int = 0) -> dict[str, float]:
    """The spectral statistics of J from its log singular values ``log_s`` (natural logs,
    any order; -inf for a zero): mean and variance of s^2, the variance over the squared
    mean (scale-free), log10(s_max / s_min) computed in the log domain (exact where s
    under- or overflows float64), the extremes and their logs; and, leaving out the
    ``outliers`` smallest values (the radial modes [T36]), ``log10_condition_bulk`` and
    ``log_s_bulk_min``. The one place they are computed: the Jacobian summary and the
    training studies both call it."""
    ls = np.sort(np.asarray(log_s, dtype=np.float64).ravel())[::-1]
    if ls.size == 0:
        raise SpectraError("no singular values given")
    if not 0 <= int(outliers) < ls.size:
        raise SpectraError(f"outliers must be in [0, {ls.size - 1}], got {outliers}")
    bulk_min = ls[ls.size - 1 - int(outliers)]
    with np.errstate(over="ignore", under="ignore"):
        s2 = np.exp(2.0 * ls)
    mean_sq, var_sq = float(np.mean(s2)), float(np.var(s2))
    return {
        "mean_sq": mean_sq,
        "var_sq": var_sq,
        "var_sq_norm": var_sq / mean_sq**2 if mean_sq > 0 else math.nan,
        "log10_condition": float((ls[0] - ls[-1]) / math.log(10.0)),
        "log10_condition_bulk": float((ls[0] - bulk_min) / math.log(10.0)),
        "s_max": float(np.exp(ls[0])),
        "s_min": float(np.exp(ls[-1])),
        "log_s_max": float(ls[0]),
        "log_s_min": float(ls[-1]),
        "log_s_bulk_min": float(bulk_min),
    }


def outlier_theory(config: dict, frame=None) -> dict:
    """Mean-field outliers of J for ``config`` [T36]: ``n_outliers`` (the radial modes,
    1 or n^dim, counted only where the law puts less than half a value below the predicted
    position -- else the mode sits inside the bulk), ``theory_log_s_outlier`` (their
    predicted log s, from the input's mean square ``config["q0"]``, default q*) and
    ``bulk_factor`` ((N_b - s_r^2) / (N_b - 1), N_b the units per radial mode: the factor
    by which the rest of each block is lifted, since the block keeps its trace)."""
    from ..meanfield import radial_log_singular_value, radial_mode_count

    out = {"n_outliers": 0, "theory_log_s_outlier": math.nan, "bulk_factor": 1.0}
    try:
        ls = radial_log_singular_value(
            config["depth"],
            config["sigma_w"],
            config["sigma_b"],
            config["activation"],
            q0=config.get("q0", config["q_star"]),
        )
    except (SpectraError, ValueError, ArithmeticError):
        return out
    out["theory_log_s_outlier"] = ls
    modes = radial_mode_count(config["init"], config["size"], config["dim"])
    n_block = config["channels"] * config["size"] ** config["dim"] // modes
    if frame is None or not math.isfinite(ls) or n_block < 2:
        return out
    ell, cdf = frame["log_lambda"].to_numpy(), frame["cdf"].to_numpy()
    below = float(np.interp(2.0 * ls, ell, cdf, left=0.0, right=1.0))  # law's mass below
    if below * n_block < 0.5:
        out["n_outliers"] = modes
        out["bulk_factor"] = (n_block - math.exp(2 * ls)) / (n_block - 1)
    return out


def bulk_frame(frame, row: dict):
    """The law of the bulk for a summary ``row``: ``frame`` lifted by ``bulk_factor``
    (:func:`spectra.rmt.scale_frame`); None stays None."""
    from ..rmt import scale_frame

    if frame is None or row.get("bulk_factor", 1.0) == 1.0:
        return frame
    return scale_frame(frame, row["bulk_factor"])


def summary_row(res, config: dict, *, seed: int, theory: bool, frame=None) -> dict:
    """The one-row summary (DESIGN columns plus ``method_reason``, ``log_s_max``,
    ``log_s_min``, ``w1_log``, the outlier columns of :func:`outlier_theory`, the bulk
    statistics and ``ks_all`` / ``w1_log_all``)."""
    from ..rmt import ks_distance, wasserstein_log

    row = {k: config[k] for k in CONFIG_COLUMNS if k in config}
    row["method"], row["seed"] = res.method, seed
    tm, tv = _theory_moments(config) if theory else (math.nan, math.nan)
    out = (
        outlier_theory(config, frame)
        if theory
        else {"n_outliers": 0, "theory_log_s_outlier": math.nan, "bulk_factor": 1.0}
    )
    row.update(n_outliers=out["n_outliers"], theory_log_s_outlier=out["theory_log_s_outlier"])
    ks = w1 = ks_all = w1_all = math.nan
    if res.log_singular_values is not None:
        ls = res.log_singular_values
        k = out["n_outliers"] if out["n_outliers"] < len(ls) else 0
        st = spectral_stats(ls, outliers=k)
        row["n"] = len(ls)
        row.update({k: st[k] for k in ("mean_sq", "var_sq", "s_max", "s_min", "log10_condition")})
        row["log10_condition_bulk"] = st["log10_condition_bulk"]
        if frame is not None:
            bulk = bulk_frame(frame, out)
            try:
                ks_all = ks_distance(ls, frame, log=True)
                w1_all = wasserstein_log(ls, frame, log=True)
                ks = ks_distance(ls, bulk, log=True, outliers=k)
                w1 = wasserstein_log(ls, bulk, log=True, outliers=k)
            except (ValueError, ArithmeticError):
                pass
        row["log_s_max"], row["log_s_min"] = st["log_s_max"], st["log_s_min"]
        row["log_s_bulk_min"] = st["log_s_bulk_min"]
    else:
        info = res.info
        row.update(
            n=info["n"],
            mean_sq=info["mean_sq"],
            var_sq=info["var_sq"],
            s_max=math.sqrt(info["lambda_max"]),
            s_min=math.sqrt(max(info["lambda_min"], 0.0)),
            log10_condition=0.5 * math.log10(info["lambda_max"] / info["lambda_min"])
            if info["lambda_min"] > 0
            else math.inf,
        )
        if frame is not None:
            ks = ks_all = _density_ks(res.density, frame)  # no outliers to leave out
        row["log_s_max"] = 0.5 * math.log(info["lambda_max"])
        row["log_s_min"] = (
            0.5 * math.log(info["lambda_min"]) if info["lambda_min"] > 0 else -math.inf
        )
    row.update(theory_mean_sq=tm, theory_var_sq=tv, ks=ks, w1_log=w1)
    row.update(ks_all=ks_all, w1_log_all=w1_all, bulk_factor=out["bulk_factor"])
    row["seconds"] = res.seconds
    row["method_reason"] = res.reason
    return row


def _density_ks(dens: dict, frame) -> float:
    """sup |F_lanczos - F_theory| in log lambda, F_lanczos from the Ritz weights."""
    nodes = np.asarray(dens["ritz_log_lambda"])
    w = np.asarray(dens["ritz_weight"])
    order = np.argsort(nodes)
    nodes, w = nodes[order], w[order]
    emp = np.cumsum(w) / w.sum()
    ft = np.interp(nodes, frame["log_lambda"].to_numpy(), frame["cdf"].to_numpy())
    ft_before = np.interp(nodes - 1e-12, frame["log_lambda"].to_numpy(), frame["cdf"].to_numpy())
    return float(max(np.max(np.abs(emp - ft)), np.max(np.abs(emp - w / w.sum() - ft_before))))


def density_frame_lanczos(res, frame=None) -> pd.DataFrame:
    """``density.csv``: lambda, density (per unit lambda), source (lanczos | theory)."""
    d = res.density
    parts = [pd.DataFrame({"lambda": d["lambda"], "density": d["density"], "source": "lanczos"})]
    if frame is not None:
        parts.append(
            pd.DataFrame(
                {
                    "lambda": frame["lambda"].to_numpy(),
                    "density": frame["density"].to_numpy(),
                    "source": "theory",
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
