"""Perturbations of the convolutional covariance map and the paper's Appendix F experiment.

the theory page [T17]: for a circular CNN with spatial variance vector v,

    Sigma^{l+1}_{a,a'} = sum_beta v_beta C(Sigma^l)_{a+beta, a'+beta},
    C(Sigma)_{a,a'} = sigma_w^2 E_{h ~ N(0, Sigma)} phi(h_a) phi(h_a') + sigma_b^2,

iterated exactly by :func:`spectra.meanfield.covariance_map` (module ``_covmap``: 1D to
3D, batches of images), with fixed point Sigma* = q* [(1 - c*) I + c* 1 1^T]. [T18]: a
perturbation on a cyclic diagonal decays per Fourier mode m like (chi_c* lambda_m)^l.

:func:`ensemble_first_diagonal` measures the same thing on finite random CNNs (torch,
float64): many independent networks of ``channels`` channels, each fed ``samples``
inputs drawn from N(0, Sigma^0) and, with the same Gaussian draws and the same weights,
from N(0, Sigma*) (common random numbers). The difference of their empirical covariances
estimates epsilon^l = E Sigma^l(Sigma*) - E Sigma^l(Sigma^0) without the O(1/c) drift of a
finite network's own fixed point, which would otherwise swamp epsilon after a few layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import SpectraError
from ._covmap import check_variance_vector, covariance_map


def fixed_point_covariance(n: int, q_star: float, c_star: float) -> np.ndarray:
    """[T17] Sigma* = q* [(1 - c*) I + c* 1 1^T], shape (n, n)."""
    return q_star * ((1.0 - c_star) * np.eye(n) + c_star * np.ones((n, n)))


def _check_v1d(v) -> np.ndarray:
    v = check_variance_vector(v)
    if v.ndim != 1 or v.size % 2 == 0:
        raise SpectraError(
            f"the finite-width ensemble needs a 1D variance vector of odd length, got {v.shape}"
        )
    return v


def iterate_covariance_map(
    sigma0,
    depth: int,
    v,
    sigma_w: float,
    sigma_b: float,
    activation="tanh",
    *,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Sigma^0 .. Sigma^depth under [T17] (:func:`covariance_map`), shape
    ``(depth + 1,) + sigma0.shape``."""
    out = [np.asarray(sigma0, dtype=np.float64)]
    for _ in range(int(depth)):
        out.append(covariance_map(out[-1], v, sigma_w, sigma_b, activation))
        if progress:
            progress(1)
    return np.stack(out)


def first_diagonal_modes(eps: np.ndarray, *, dim: int = 1, lag=None) -> np.ndarray:
    """DFT over position s of a cyclic diagonal eps[..., s, s + lag] ([T18]), complex.

    ``dim`` = 1: ``eps`` (..., n, n), lag 1 by default; returns (..., n).
    ``dim`` = 2 or 3: ``eps`` (..., *n, *n) (e.g. (n1, n2, n1, n2)); ``lag`` a tuple of
    ``dim`` ints (indices mod n) gives (..., *n); by default the unit lag along each axis,
    stacked: (..., dim, *n), entry [t] for lag e_t. Convention hat e(m) =
    sum_s e_s exp(-2 pi i <m, s> / n) (numpy's fftn). A flattened 2D Sigma must be
    reshaped to (*n, *n) first.
    """
    eps = np.asarray(eps)
    if dim not in (1, 2, 3) or isinstance(dim, bool):
        raise SpectraError(f"dim must be 1, 2 or 3, got {dim!r}")
    if eps.ndim < 2 * dim or eps.shape[-2 * dim : -dim] != eps.shape[-dim:]:
        raise SpectraError(f"eps must end in (*n, *n) with {dim} axes n, got {eps.shape}")
    pixels = eps.shape[-dim:]
    if lag is None:
        if dim == 1:
            return first_diagonal_modes(eps, dim=1, lag=(1,))
        lags = [tuple(int(t == a) for t in range(dim)) for a in range(dim)]
        return np.stack([first_diagonal_modes(eps, dim=dim, lag=g) for g in lags], axis=-dim - 1)
    lag = (lag,) if np.isscalar(lag) else tuple(lag)
    if len(lag) != dim:
        raise SpectraError(f"lag must have {dim} entries, got {lag!r}")
    grids = np.meshgrid(*[np.arange(n) for n in pixels], indexing="ij")
    rows = tuple(grids)
    cols = tuple((g + int(t)) % n for g, t, n in zip(grids, lag, pixels, strict=True))
    diag = eps[(Ellipsis, *rows, *cols)]
    return np.fft.fftn(diag, axes=tuple(range(-dim, 0)))


def _appendix_f_exponents(n: int) -> np.ndarray:
    """Exponents e_m of the Appendix F profile -r^(e_m)/6: e_0 = 0, e_{n-m} = e_m, and for
    1 <= m <= h = n // 2 the fold e_m = 2m - 1 while 2m - 1 <= h, then 2(h - m + 1); n = 10
    gives the paper's [0, 1, 3, 5, 4, 2, 4, 5, 3, 1]."""
    h = n // 2
    e = np.zeros(n, dtype=int)
    for m in range(1, h + 1):
        e[m] = 2 * m - 1 if 2 * m - 1 <= h else 2 * (h - m + 1)
        e[n - m] = e[m]
    return e


def appendix_f_perturbation(n: int = 10, profile=None) -> np.ndarray:
    """epsilon^0 of the paper's Appendix F: zero except the first cyclic diagonal (and its
    mirror), whose DFT is ``profile``. Default -1/6 r^(e_m) with r = 2/3 and the exponents
    of :func:`_appendix_f_exponents` (for n = 10 the paper's -1/6 [1, r, r^3, r^5, r^4, r^2,
    r^4, r^5, r^3, r]; for other n the same fold, our extension). Shape (n, n), symmetric,
    real; n >= 3."""
    if isinstance(n, bool) or int(n) != n or n < 3:
        raise SpectraError(f"n must be an integer >= 3, got {n!r}")
    n = int(n)
    if profile is None:
        profile = -((2.0 / 3.0) ** _appendix_f_exponents(n)) / 6.0
    prof = np.asarray(profile, dtype=complex)
    if prof.shape != (n,):
        raise SpectraError(f"profile must have {n} entries")
    e = np.fft.ifft(prof)
    if np.abs(e.imag).max() > 1e-12:
        raise SpectraError("profile must be Hermitian (p[m] = conj p[n-m]) for a real diagonal")
    a = np.arange(n)
    eps = np.zeros((n, n))
    eps[a, (a + 1) % n] = e.real
    eps[(a + 1) % n, a] = e.real
    return eps


def ensemble_first_diagonal(
    sigma0,
    sigma_ref,
    depth: int,
    v,
    sigma_w: float,
    sigma_b: float,
    activation="tanh",
    *,
    channels: int = 256,
    networks: int = 16,
    samples: int = 16,
    generator=None,
    device: str = "cpu",
    chunk: int = 256,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Finite-width estimate of the first-diagonal modes of epsilon^l = Sigma_ref^l - Sigma^l.

    ``networks`` independent 1D circular CNNs (width ``channels``, kernel len(v), weights
    N(0, sigma_w^2 v_beta / channels), biases N(0, sigma_b^2), float64; [T1]-[T3]) run as
    batched matrix products, ``chunk`` networks at a time. Each network gets ``samples``
    inputs h^0 = L0 g and, coupled, L_ref g (L = Cholesky factors of sigma0, sigma_ref;
    g ~ N(0, I) per channel and sample). Per network and depth, the covariances over
    channels and samples are differenced and the first cyclic diagonal Fourier transformed.
    At depth l >= 1 the covariance is Rao-Blackwellised over layer l's own weights and
    biases (its exact conditional mean given x^{l-1}: A_v * (sigma_w^2 G + sigma_b^2) with
    G the empirical Gram of x^{l-1}) -- unbiased, with less variance. ``generator`` must
    live on ``device``. ``progress`` is called with 1 per layer per chunk.

    Returns ``{"mean": (depth+1, n) complex, "stderr": (depth+1, n) (of the real part,
    across networks), "per_network": (networks, depth+1, n) complex}``.
    """
    import torch

    from ..activations import get_activation
    from ._maps import _check_ws

    sigma_w, sigma_b = _check_ws(sigma_w, sigma_b)
    v = _check_v1d(v)
    for name, val in (("channels", channels), ("networks", networks), ("samples", samples)):
        if int(val) != val or val < 2:
            raise SpectraError(f"{name} must be an integer >= 2, got {val!r}")
    act = get_activation(activation)
    dt = torch.float64
    dev = torch.device(device)
    gen = generator if generator is not None else torch.Generator(device=dev).manual_seed(0)
    s0 = np.asarray(sigma0, dtype=np.float64)
    sr = np.asarray(sigma_ref, dtype=np.float64)
    n = s0.shape[0]
    c, S, k = int(channels), int(samples), v.size
    r = k // 2
    l2 = torch.stack(
        [torch.as_tensor(np.linalg.cholesky(m), dtype=dt, device=dev) for m in (s0, sr)]
    )  # (2, n, n)
    std = torch.as_tensor(sigma_w * np.sqrt(v / c), dtype=dt, device=dev)  # (k,)
    vt = torch.as_tensor(v, dtype=dt, device=dev)
    a = torch.arange(n)

    def diag_modes(cov):  # cov (Nc, 2, n, n) -> (Nc, n) modes of ref - perturbed
        diff = (cov[:, 1] - cov[:, 0]).cpu().numpy()
        return np.fft.fft(diff[:, a, (a + 1) % n], axis=-1)

    def gram(t):  # t (Nc, 2, S, c, n) -> (Nc, 2, n, n), mean over samples and channels
        return torch.einsum("ntsca,ntscb->ntab", t, t) / (S * c)

    per = []
    total = int(networks)
    for start in range(0, total, int(chunk)):
        nc = min(int(chunk), total - start)
        g = torch.randn(nc, 1, S, c, n, generator=gen, dtype=dt, device=dev)
        h = g @ l2.transpose(-1, -2)[None, :, None]  # (nc, 2, S, c, n): rows ~ N(0, Sigma)
        out = [diag_modes(gram(h))]
        for _ in range(int(depth)):
            x = act.torch_phi(h)
            cm = sigma_w**2 * gram(x) + sigma_b**2
            cov = sum(
                vt[i] * torch.roll(cm, shifts=(r - i, r - i), dims=(-2, -1)) for i in range(k)
            )
            out.append(diag_modes(cov))
            # next layer: h(a) = sum_beta W(beta) x(a + beta) + b, as one batched matmul
            taps = torch.stack([torch.roll(x, shifts=r - i, dims=-1) for i in range(k)], dim=-2)
            xt = taps.permute(0, 1, 2, 5, 3, 4).reshape(nc, 2 * S * n, c * k)
            w = torch.randn(nc, c, c, k, generator=gen, dtype=dt, device=dev) * std
            b = torch.randn(nc, 1, 1, c, 1, generator=gen, dtype=dt, device=dev) * sigma_b
            hn = xt @ w.reshape(nc, c, c * k).transpose(1, 2)  # (nc, 2 S n, c)
            h = hn.reshape(nc, 2, S, n, c).transpose(-1, -2) + b
            if progress:
                progress(1)
        per.append(np.stack(out, axis=1))
    per = np.concatenate(per, axis=0)  # (N, depth+1, n)
    mean = per.mean(axis=0)
    se = per.real.std(axis=0, ddof=1) / math.sqrt(per.shape[0])
    return {"mean": mean, "stderr": se, "per_network": per}


def _noise_floor(y: np.ndarray, start: int) -> float:
    """A noise level of |coef| from the data alone (0 when none is seen): once a decaying
    |coef| first rises again, the values from the last one before the rise on are taken
    as noise, and their median / 0.6745 (the s.d. of a Gaussian whose |.| has that
    median) is the level. A sequence still decaying (or growing) at its end gives 0."""
    t = y[start:]
    if t.size < 3 or not t[1] < t[0]:
        return 0.0
    rise = np.nonzero(t[1:] > t[:-1])[0]
    if rise.size == 0:
        return 0.0
    return float(np.median(t[rise[0] :]) / 0.6745)


def fit_decay_rate(depth, coef, stderr=None, *, snr: float = 5.0, start: int = 1) -> dict:
    """Fit |coef_l| ~ A r^l by weighted least squares of log|coef| on l.

    Window: l from ``start`` up to the last depth before |coef| first drops below
    ``snr`` standard errors. Without ``stderr`` a constant one is estimated from the data
    (:func:`_noise_floor`: the level |coef| settles at once it stops decaying, e.g.
    float64 rounding of exact maps), so the fit stops before the floor. Weights
    (|coef|/stderr)^2 (the delta-method variance of log|coef|; uniform when no noise is
    seen). Returns ``rate`` r, ``rate_stderr`` (delta method, from the WLS slope s.e.;
    from the residuals when no stderr was given), ``window_start``, ``window_end``,
    ``points``, ``noise_floor`` (the estimate, NaN when ``stderr`` was given).
    """
    depth = np.asarray(depth, dtype=np.float64)
    y = np.abs(np.asarray(coef))
    floor = np.nan
    given = stderr is not None
    if given:
        se = np.asarray(stderr, dtype=np.float64)
    else:
        i0 = int(np.searchsorted(depth, start))
        floor = _noise_floor(y, i0)
        se = np.full(y.shape, floor) if floor > 0 else None
    sel = depth >= start
    if se is not None:
        bad = np.nonzero(sel & (y < snr * se))[0]
        if bad.size:
            sel &= np.arange(depth.size) < bad[0]
    sel &= y > 0
    if sel.sum() < 3:
        return {
            "rate": np.nan,
            "rate_stderr": np.nan,
            "window_start": np.nan,
            "window_end": np.nan,
            "points": int(sel.sum()),
            "noise_floor": floor,
        }
    x, ly = depth[sel], np.log(y[sel])
    wts = np.ones_like(x) if se is None else (y[sel] / np.maximum(se[sel], 1e-300)) ** 2
    xm = np.sum(wts * x) / wts.sum()
    ym = np.sum(wts * ly) / wts.sum()
    sxx = np.sum(wts * (x - xm) ** 2)
    slope = np.sum(wts * (x - xm) * (ly - ym)) / sxx
    if not given:
        resid = ly - (ym + slope * (x - xm))
        slope_se = math.sqrt(np.sum(wts * resid**2) / max(x.size - 2, 1) / sxx)
    else:
        slope_se = math.sqrt(1.0 / sxx)
    rate = math.exp(slope)
    return {
        "rate": rate,
        "rate_stderr": rate * slope_se,
        "window_start": int(x[0]),
        "window_end": int(x[-1]),
        "points": int(x.size),
        "noise_floor": floor,
    }
