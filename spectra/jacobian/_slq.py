"""The one stochastic Lanczos quadrature (SLQ) core, on a pair of operators.

Every matrix-free route (the conv stack's :class:`JacobianOperator`, any model's
``torch.func`` JVP/VJP) hands this core ``matvec`` (v -> J v) and ``rmatvec``
(u -> J^T u) on batches of flattened vectors (p, N_in) -> (p, N_out) and back. The Gram
operator is taken on the smaller side: J^T J (N_in x N_in) when N_in <= N_out, else
J J^T (N_out x N_out); both have the squared singular values s^2 of J as their nonzero
eigenvalues, so the density is that of s^2 over the min(N_in, N_out) values of [T21].

``probes`` random unit vectors run ``steps`` Lanczos iterations in one batch, with full
re-orthogonalisation (twice) in float64. Each probe's tridiagonal gives Ritz values
theta_k and Gauss weights tau_k; their average is an unbiased estimate of the spectral
measure, exact in its first 2 steps - 1 moments per probe. The density is that measure
smoothed by a Gaussian in log lambda.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

Op = Callable[[torch.Tensor], torch.Tensor]


def slq_nodes(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values and Gauss weights of per-probe tridiagonals.

    ``alpha`` (p, m), ``beta`` (p, m-1) -> theta (p, m), tau (p, m) with sum_k tau = 1.
    """
    p, m = alpha.shape
    thetas, taus = np.empty((p, m)), np.empty((p, m))
    for i in range(p):
        t = np.diag(alpha[i]) + np.diag(beta[i], 1) + np.diag(beta[i], -1)
        th, vec = np.linalg.eigh(t)
        thetas[i], taus[i] = th, vec[0] ** 2
    return thetas, taus


def lanczos_tridiagonals(
    gram: Op, n: int, *, steps: int, probes: int, seed: int, device, on_step=None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Batched Lanczos on the symmetric PSD ``gram`` ((p, n) float64 -> (p, n) float64).

    Returns ``alpha`` (p, m), ``beta`` (p, m-1) and the number of steps done (fewer than
    ``steps`` when an invariant subspace is found: the quadrature is then exact).
    """
    m = min(steps, n)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn((probes, n), generator=g, dtype=torch.float64).to(device)
    v = v / v.norm(dim=1, keepdim=True)
    basis = torch.zeros((probes, m, n), dtype=torch.float64, device=device)
    alpha = torch.zeros((probes, m), dtype=torch.float64)
    beta = torch.zeros((probes, max(m - 1, 0)), dtype=torch.float64)
    prev = torch.zeros_like(v)
    b_prev = torch.zeros(probes, dtype=torch.float64, device=device)
    done = m
    for k in range(m):
        basis[:, k] = v
        w = gram(v).to(torch.float64)
        if on_step is not None:
            on_step()
        a = (w * v).sum(dim=1)
        w = w - a[:, None] * v - b_prev[:, None] * prev
        for _ in range(2):  # full re-orthogonalisation (twice is enough)
            coef = torch.einsum("pkn,pn->pk", basis[:, : k + 1], w)
            w = w - torch.einsum("pkn,pk->pn", basis[:, : k + 1], coef)
        alpha[:, k] = a.cpu()
        if k == m - 1:
            break
        b = w.norm(dim=1)
        if bool((b <= 1e-13 * alpha[:, : k + 1].abs().max().to(device)).any()):
            done = k + 1
            break
        beta[:, k] = b.cpu()
        prev, v, b_prev = v, w / b[:, None], b
    return alpha[:, :done].numpy(), beta[:, : done - 1].numpy(), done


def slq_density(
    matvec: Op,
    rmatvec: Op,
    n_in: int,
    n_out: int,
    *,
    steps: int = 40,
    probes: int = 4,
    seed: int = 0,
    bandwidth: float | None = None,
    grid_points: int = 400,
    device=None,
    on_step: Callable[[], None] | None = None,
) -> tuple[dict, dict]:
    """SLQ density of lambda = s^2 for J given by ``matvec``/``rmatvec`` (module docstring).

    Returns ``(density, info)``: ``density`` has ``lambda`` (grid, float64), ``density``
    (per unit lambda), ``ritz_log_lambda``, ``ritz_weight`` (the discrete SLQ measure,
    weights summing to 1); ``info`` has ``n`` (min(N_in, N_out): how many s there are),
    ``gram_side`` (``J^T J`` or ``J J^T``), ``mean_sq``, ``var_sq`` (moments of the SLQ
    measure: Hutchinson estimates of tr/n), ``lambda_max``, ``lambda_min``, ``steps``,
    ``probes``, ``bandwidth`` (in log lambda). ``on_step()`` is called after each batched
    Gram product (one matvec and one rmatvec).
    """
    dev = torch.device(device or "cpu")
    if n_in <= n_out:
        n, side = n_in, "J^T J"

        def gram(v):
            return rmatvec(matvec(v))
    else:
        n, side = n_out, "J J^T"

        def gram(u):
            return matvec(rmatvec(u))

    alpha, beta, done = lanczos_tridiagonals(
        gram, n, steps=steps, probes=probes, seed=seed, device=dev, on_step=on_step
    )
    theta, tau = slq_nodes(alpha, beta)
    theta = np.clip(theta, 1e-300, None)
    logs, wts = np.log(theta).ravel(), (tau / probes).ravel()
    mean = float(np.sum(wts * theta.ravel()))
    second = float(np.sum(wts * theta.ravel() ** 2))
    spread = float(logs.max() - logs.min())
    # default: wider than the typical gap between Ritz nodes (spread / steps), so the
    # quadrature's discreteness is smoothed out, and at least 3% of the spread
    bw = bandwidth if bandwidth is not None else max(0.02, 0.03 * spread, 1.5 * spread / done)
    grid = np.linspace(logs.min() - 4 * bw, logs.max() + 4 * bw, grid_points)
    z = (grid[:, None] - logs[None, :]) / bw
    dens_log = (np.exp(-0.5 * z**2) * wts[None, :]).sum(1) / (bw * math.sqrt(2 * math.pi))
    lam = np.exp(grid)
    density = {
        "lambda": lam,
        "density": dens_log / lam,
        "ritz_log_lambda": logs,
        "ritz_weight": wts,
    }
    info = {
        "n": n,
        "gram_side": side,
        "mean_sq": mean,
        "var_sq": max(second - mean**2, 0.0),
        "lambda_max": float(theta.max()),
        "lambda_min": float(theta.min()),
        "steps": done,
        "probes": probes,
        "bandwidth": bw,
    }
    return density, info


def w1_log_lambda(density: dict, log_singular_values: np.ndarray) -> float:
    """W1 distance in log lambda = 2 log s between the SLQ measure (``ritz_log_lambda``,
    ``ritz_weight``) and the empirical measure of exact ``log_singular_values``:
    the integral of |F - G| over log lambda (both CDFs are step functions)."""
    a = np.asarray(density["ritz_log_lambda"], dtype=np.float64)
    wa = np.asarray(density["ritz_weight"], dtype=np.float64)
    b = 2.0 * np.asarray(log_singular_values, dtype=np.float64)
    b = b[np.isfinite(b)]
    pts = np.concatenate([a, b])
    order = np.argsort(pts, kind="stable")
    pts = pts[order]
    mass = np.concatenate([wa / wa.sum(), -np.full(b.size, 1.0 / b.size)])[order]
    diff = np.cumsum(mass)[:-1]
    return float(np.sum(np.abs(diff) * np.diff(pts)))
