"""spectra: signal propagation and Jacobian spectra of very deep vanilla CNNs.

Implements Xiao et al. (2018), "Dynamical Isometry and a Mean Field Theory of CNNs: How to
Train 10,000-Layer Vanilla CNNs". Formulas are cited by their number in THEORY.md
([T1]-[T34]).

The public names below are re-exported lazily (PEP 562): ``spectra.conv_kernel`` imports
``spectra.kernels`` on first use, so ``import spectra`` and the CLI start fast and torch is
loaded only by the code that needs it. The submodules are the same objects either way.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    # errors, activations
    "SpectraError": "errors",
    "Activation": "activations",
    "get_activation": "activations",
    # kernels and explicit operators (THEORY [T3]-[T9])
    "INIT_NAMES": "kernels",
    "DENSE_INIT_NAMES": "kernels",
    "conv_kernel": "kernels",
    "variance_vector": "kernels",
    "dense_weight": "kernels",
    "haar_orthogonal": "kernels",
    "orthogonal_conv_": "kernels",
    "delta_orthogonal_": "kernels",
    "gaussian_conv_": "kernels",
    "orth_kernel_factored": "factored",
    "native_available": "native",
    "conv_matrix": "operators",
    "conv_singular_values": "operators",
    # mean-field theory ([T10]-[T20])
    "q_star": "meanfield",
    "c_star": "meanfield",
    "chi_1": "meanfield",
    "chi_c": "meanfield",
    "chi_q": "meanfield",
    "depth_scale": "meanfield",
    "critical_sigma_w": "meanfield",
    "critical_point": "meanfield",
    "operating_point": "meanfield",
    "mean_field": "meanfield",
    "fourier_eigenvalues": "meanfield",
    "mode_depth_scales": "meanfield",
    "phase_grid": "meanfield",
    # network and Jacobian spectra ([T21]-[T24])
    "VanillaCNN": "network",
    "ConvStack": "jacobian",
    "SpectrumResult": "jacobian",
    "spectrum": "jacobian",
    "singular_values": "jacobian",
    "lanczos_density": "lanczos",
    # random-matrix theory ([T25]-[T34])
    "marchenko_pastur_density": "rmt",
    "marchenko_pastur_cdf": "rmt",
    "quarter_circle_density": "rmt",
    "quarter_circle_cdf": "rmt",
    "theory_moments": "rmt",
    "jacobian_density": "rmt",
    "density_frame": "rmt",
    "ks_distance": "rmt",
    "wasserstein_log": "rmt",
    # data, training, sweeps (the training loop itself is ``spectra.train.train``: the
    # submodule ``spectra.train`` owns that attribute name)
    "DATASETS": "data",
    "Dataset": "data",
    "load_dataset": "data",
    "TrainConfig": "train",
    "Classifier": "train",
    "build_model": "train",
    "read_history": "train",
    "steps_to_accuracy": "train",
    "accuracy_after": "train",
    "run_jobs": "sweep",
    "job_key": "sweep",
    "correlate_job": "studies",
    "trainability_job": "studies",
    "spearman_table": "studies",
    # tables
    "write_csv": "tables",
}

_SUBMODULES = frozenset(
    {
        "activations",
        "cli",
        "data",
        "errors",
        "jacobian",
        "kernels",
        "lanczos",
        "meanfield",
        "network",
        "operators",
        "plots",
        "quadrature",
        "rmt",
        "studies",
        "sweep",
        "tables",
        "train",
    }
)

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'spectra' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
