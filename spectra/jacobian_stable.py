"""Exact singular values of long, ill-conditioned products in the log domain (THEORY [T24]).

For ``J = A_L ... A_1`` (here ``A_l = D^l W^l``, [T21]) the discrete-QR method sets
``Q_0 = I`` and factors ``A_l Q_{l-1} = Q_l R_l`` with ``diag R_l > 0``; then
``sv J = sv(R_L ... R_1)`` exactly. The triangular product is kept as
``diag(e^ell) C`` with ``C`` unit upper-triangular:
``C <- diag(e^-ell) U_l diag(e^ell) C`` and ``ell += log diag R_l`` with
``U_l = diag(R_l)^-1 R_l``. A Jacobi SVD with high relative accuracy (LAPACK ``dgejsv``)
of ``C^T diag(e^(ell - max ell))`` finishes the job; nothing is ever exponentiated to a
value that could overflow, so ``log sigma`` is right even where ``sigma`` itself is not a
float64 (beyond ~700 nats).

Two practical refinements, both exact in exact arithmetic:

- *Grouped QR.* Between re-orthogonalisations we may apply several layers to Q (one QR
  per group). The group length adapts so that the log-spread of ``diag R`` within a group
  stays below ``max_group_spread`` nats (so the group's product is well conditioned and
  the QR keeps full float64 accuracy); ``group=1`` is the textbook per-layer method.
- *Huge spreads.* When ``max ell - min ell`` exceeds what ``dgejsv`` can see in one
  float64 scaling (``_JSV_SPREAD`` nats), the triangular factor is first driven towards
  diagonal form by log-domain QR sweeps ``diag(e^ell) C -> R(C^T diag(e^ell))`` (the
  unshifted QR algorithm on a graded matrix, which converges at the rate of the gaps
  ``sigma_{i+1}/sigma_i``), each again kept as ``(ell, C)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import lapack

__all__ = ["LogTriangular", "jacobi_log_singular_values", "qr_positive"]

#: Largest log-spread handed to one dgejsv call (e^-600 is far above float64 underflow).
_JSV_SPREAD = 600.0


def qr_positive(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Householder QR ``a = Q R`` with ``diag R >= 0`` (columns of Q flipped to match)."""
    q, r = torch.linalg.qr(a)
    s = torch.sign(torch.diagonal(r))
    s = torch.where(s == 0, torch.ones_like(s), s)
    return q * s, r * s[:, None]


class LogTriangular:
    """The running product ``R_L ... R_1 = diag(e^ell) C`` of [T24] (float64).

    ``ell``: (N,) log scales; ``C``: (N, N) unit upper-triangular.
    """

    def __init__(self, n: int, device=None) -> None:
        self.ell = torch.zeros(n, dtype=torch.float64, device=device)
        self.C = torch.eye(n, dtype=torch.float64, device=device)

    def absorb(self, r: torch.Tensor) -> None:
        """Left-multiply by the upper-triangular ``r`` (positive diagonal) [T24]."""
        d = torch.diagonal(r)
        log_d = torch.log(d)
        u = r / d[:, None]  # unit upper triangular
        # (diag(e^-ell) U diag(e^ell))_ij = U_ij e^(ell_j - ell_i); only i <= j is non-zero
        g = self.ell[None, :] - self.ell[:, None]
        g = torch.triu(g).clamp(max=700.0)  # below the diagonal U is 0; avoid inf * 0
        self.C = (u * torch.exp(g)) @ self.C
        self.ell = self.ell + log_d

    @property
    def spread(self) -> float:
        return float(self.ell.max() - self.ell.min())


def _dgejsv_values(a: np.ndarray) -> np.ndarray:
    """Singular values of ``a`` by LAPACK dgejsv (Jacobi, high relative accuracy)."""
    # joba=0 ('C': high relative accuracy for A = B D with B well conditioned, whatever
    # the column scaling D -- exactly our C^T diag(e^ell); 'A' truncates the numerical
    # rank and returned zeros here), jobu=jobv=3 (no vectors), jobr=0 ('N': no range
    # restriction), jobt=1 ('N'), jobp=1 ('N': no perturbation of tiny entries)
    sva, _, _, work, _, info = lapack.dgejsv(
        np.asfortranarray(a), joba=0, jobu=3, jobv=3, jobr=0, jobt=1, jobp=1
    )
    if info != 0:
        raise RuntimeError(f"dgejsv failed with info={info}")
    return sva * (work[0] / work[1])


def _qr_sweep(lt: LogTriangular) -> LogTriangular:
    """One log-domain QR step: ``X = diag(e^ell) C`` -> ``R`` of ``X^T = C^T diag(e^ell)``.

    ``X^T`` is the product of ``diag(e^ell)`` (QR trivial) and ``C^T``; by [T24] the
    singular values of ``X`` are those of ``R(C^T) diag(e^ell)``.
    """
    _, r = qr_positive(lt.C.T)
    out = LogTriangular(0, device=lt.C.device)
    out.ell = lt.ell.clone()
    out.C = torch.eye(lt.C.shape[0], dtype=torch.float64, device=lt.C.device)
    out.absorb(r)
    return out


def jacobi_log_singular_values(lt: LogTriangular, *, max_sweeps: int = 200) -> np.ndarray:
    """Natural logs of the singular values of ``diag(e^ell) C``, sorted descending.

    Spread <= 600 nats: one dgejsv of ``C^T diag(e^(ell - max ell))`` [T24]. Larger
    spreads: QR sweeps until every strictly-upper entry of C is below 1e-15 relative to
    the diagonal (then sigma_i = e^ell_i (1 + O(1e-30))), or until the spread of every
    still-coupled window fits one dgejsv.
    """
    cur = lt
    for _ in range(max_sweeps):
        if cur.spread <= _JSV_SPREAD:
            break
        off = torch.triu(cur.C, diagonal=1).abs().max().item() if cur.C.shape[0] > 1 else 0.0
        if off < 1e-15:
            return np.sort(cur.ell.cpu().numpy())[::-1].copy()
        cur = _qr_sweep(cur)
    ell = cur.ell.cpu().numpy()
    top = float(ell.max())
    scaled = cur.C.T.cpu().numpy() * np.exp(ell - top)[None, :]
    with np.errstate(divide="ignore"):
        out = np.log(_dgejsv_values(scaled)) + top
    return np.sort(out)[::-1].copy()


def stable_log_singular_values(
    apply_group: Callable[[torch.Tensor, int], tuple[torch.Tensor, int]],
    n: int,
    depth: int,
    *,
    device=None,
    group: int | None = None,
    max_group_spread: float = 8.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Discrete-QR log singular values of a depth-``depth`` product of N x N maps [T24].

    ``apply_group(Q, m)`` must apply the next ``m`` layers (in order) to the columns of the
    (N, N) float64 matrix ``Q`` and return ``(A Q, layers_done)``. ``group`` fixes the
    number of layers per QR (1 = textbook); ``None`` adapts it so that each group's
    log-spread of ``diag R`` stays below ``max_group_spread`` nats. Returns (log sigma
    sorted descending, info dict with ``qr_steps`` and ``max_group_spread_seen``).
    """
    lt = LogTriangular(n, device=device)
    q = torch.eye(n, dtype=torch.float64, device=device)
    done, m, steps, seen = 0, (group or 1), 0, 0.0
    while done < depth:
        m_now = min(m, depth - done)
        aq, k = apply_group(q, m_now)
        q, r = qr_positive(aq)
        d = torch.diagonal(r)
        if bool((d <= 0).any()):
            raise FloatingPointError("a layer map is singular (zero diagonal in QR)")
        lt.absorb(r)
        sp = float(torch.log(d).max() - torch.log(d).min())
        seen = max(seen, sp)
        done += k
        steps += 1
        if progress is not None:
            progress(k)
        if group is None:
            if sp > max_group_spread and m > 1:
                m = max(1, m // 2)
            elif sp < max_group_spread / 4:
                m = min(2 * m, 64)
    logs = jacobi_log_singular_values(lt)
    return logs, {"qr_steps": steps, "max_group_spread_seen": seen, "spread": lt.spread}


def log_condition(logs: np.ndarray) -> float:
    """log10 of sigma_max / sigma_min from natural-log singular values."""
    return float((np.max(logs) - np.min(logs)) / math.log(10.0))
