"""Singular values of random circular-conv matrices against dense Gaussian matrices
(the paper's Fig S4, Appendix E), with the quarter-circle law and KS distances.

A 1D circular conv with c channels, k taps and i.i.d. N(0, 1/(c k^d)) entries acts on
N = c n^d dimensional vectors; by [T6]/[T7] its singular values are those of n^d complex
c x c symbols P(m) whose entries have variance 1/c. A dense N x N matrix with N(0, 1/N)
entries is the fully-connected counterpart. Both tend to the quarter-circle law [T33]
(sigma = 1) as c grows; the KS distance to it measures how far each is from the limit.

The laws and the KS statistic come from :mod:`spectra.rmt`. Functions return pandas
DataFrames; no I/O. The CLI (``spectra weights``) and
``experiments/fig_s4.py`` write them to CSV.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import SpectraError
from ..kernels import conv_kernel, dense_weight
from ..operators import conv_singular_values
from ..rmt import ks_distance, marchenko_pastur_density, quarter_circle_cdf, quarter_circle_density

#: Largest dense matrix side :func:`weight_singular_values` accepts (a float64 SVD of
#: 16384^2 needs 2 GiB and minutes).
MAX_DENSE_SIDE = 16384

_KINDS = ("conv", "dense")
_KEYS = ["kind", "dim", "size", "kernel", "channels", "seed"]
#: Columns of ``singular_values.csv`` (DESIGN.md).
SV_COLUMNS = [*_KEYS, "index", "singular_value"]
#: Columns of ``ks.csv``.
KS_COLUMNS = [*_KEYS, "n", "ks"]


def quarter_circle_ks(singular_values: np.ndarray) -> float:
    """KS distance between the empirical law of ``singular_values`` and the quarter circle
    [T33] (sigma = 1). Computed on s^2 by :func:`spectra.rmt.ks_distance` (KS is invariant
    under the monotone map s -> s^2)."""
    return ks_distance(singular_values, lambda lam: quarter_circle_cdf(np.sqrt(lam)))


def _seed_for(seed: int, channels: int, kind: str) -> int:
    """A generator seed that depends only on (seed, channels, kind), so a matrix does not
    change when other channel counts are added to the run."""
    ss = np.random.SeedSequence([seed, channels, _KINDS.index(kind)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] % 2**63)


def validate_study(
    dim: int, size: int, kernel: int, channels: Sequence[int], seeds: Sequence[int]
) -> None:
    """Raise a one-line :class:`SpectraError` naming the first bad option (--dim, --size,
    --kernel, --channels, seeds, or a dense matrix too large to decompose)."""
    if dim not in (1, 2):
        raise SpectraError(f"--dim must be 1 or 2, got {dim}")
    if size < 1:
        raise SpectraError(f"--size must be >= 1, got {size}")
    if kernel < 1 or kernel % 2 == 0:
        raise SpectraError(f"--kernel must be an odd integer >= 1, got {kernel}")
    if not channels or min(channels) < 1:
        raise SpectraError(f"--channels must be integers >= 1, got {list(channels)}")
    if not len(seeds):
        raise SpectraError("at least one seed is needed")
    side = max(channels) * size**dim
    if side > MAX_DENSE_SIDE:
        raise SpectraError(
            f"dense matrix side channels*size^dim = {side} exceeds {MAX_DENSE_SIDE}; "
            "use fewer channels or a smaller size"
        )


def weight_singular_values(
    channels: Sequence[int],
    *,
    dim: int = 1,
    size: int = 26,
    kernel: int = 5,
    seeds: Sequence[int] = (0,),
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Singular values of a random conv matrix and a dense matrix per (channels, seed).

    conv: the circular conv of a ``gaussian`` kernel with sigma_w = 1, i.e. entries
    N(0, 1/(c k^d)) ([T3]), on size^d positions, by the FFT route ([T7]).
    dense: an N x N matrix with N = c size^d and entries N(0, 1/N), by dense SVD.
    Both give N values per matrix. Columns: ``kind, dim, size, kernel, channels, seed,
    index, singular_value`` (index 0 = largest). ``progress(1)`` after each matrix.
    """
    channels, seeds = [int(c) for c in channels], [int(s) for s in seeds]
    validate_study(dim, size, kernel, channels, seeds)
    frames = []
    for seed in seeds:
        for c in channels:
            for kind in _KINDS:
                g = torch.Generator().manual_seed(_seed_for(seed, c, kind))
                if kind == "conv":
                    w = conv_kernel("gaussian", c, c, kernel, dim=dim, generator=g, dtype=dtype)
                    sv = conv_singular_values(w.to(device), size)
                else:
                    n = c * size**dim
                    w = dense_weight("dense-gaussian", n, n, generator=g, dtype=dtype)
                    sv = torch.linalg.svdvals(w.to(device))
                sv = sv.double().cpu().numpy()
                frames.append(
                    pd.DataFrame(
                        {
                            "kind": kind,
                            "dim": dim,
                            "size": size,
                            "kernel": kernel,
                            "channels": c,
                            "seed": seed,
                            "index": np.arange(sv.size),
                            "singular_value": sv,
                        }
                    )
                )
                if progress is not None:
                    progress(1)
    return pd.concat(frames, ignore_index=True)


def weight_theory(points: int = 401) -> pd.DataFrame:
    """Limit laws on a grid: ``law, x, density``. ``quarter-circle``: the singular-value
    density [T33] (sigma = 1) on [0, 2]; ``marchenko-pastur``: the density of s^2 [T32]
    (gamma = 1) on (0, 4] (it diverges like x^(-1/2) at 0, so the grid starts at 4/points)."""
    s = np.linspace(0.0, 2.0, points)
    x = np.linspace(4.0 / points, 4.0, points)
    return pd.concat(
        [
            pd.DataFrame({"law": "quarter-circle", "x": s, "density": quarter_circle_density(s)}),
            pd.DataFrame(
                {"law": "marchenko-pastur", "x": x, "density": marchenko_pastur_density(x)}
            ),
        ],
        ignore_index=True,
    )


def weight_ks(singular_values: pd.DataFrame) -> pd.DataFrame:
    """KS distance of each matrix's singular values to the quarter circle [T33]:
    ``kind, dim, size, kernel, channels, seed, n, ks`` (n = number of singular values)."""
    rows = []
    for key, grp in singular_values.groupby(_KEYS, sort=True):
        sv = grp["singular_value"].to_numpy()
        rows.append((*key, sv.size, quarter_circle_ks(sv)))
    return pd.DataFrame(rows, columns=KS_COLUMNS)
