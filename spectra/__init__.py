"""spectra: signal propagation and Jacobian spectra of very deep vanilla CNNs.

Implements Xiao et al. (2018), "Dynamical Isometry and a Mean Field Theory of CNNs: How to
Train 10,000-Layer Vanilla CNNs". Formulas are cited by their number on the theory page
(``docs/theory.md``, [T1]-[T36]).

The public names are listed once, in the ``TYPE_CHECKING`` block below, which is what type
checkers and IDEs read. At run time the same list is read from this file and each name is
imported on first use (PEP 562), so ``import spectra`` and the CLI start without torch.
The subpackages hold the rest: ``spectra.kernels``, ``spectra.meanfield``, ``spectra.rmt``,
``spectra.jacobian``, ``spectra.training``, ``spectra.studies``, ``spectra.plots``,
``spectra.cli``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .activations import (
        Activation as Activation,
        get_activation as get_activation,
    )
    from .data import (
        DATASETS as DATASETS,
        Dataset as Dataset,
        load_dataset as load_dataset,
    )
    from .errors import (
        SpectraError as SpectraError,
    )
    from .jacobian import (
        ConvStack as ConvStack,
        SpectrumResult as SpectrumResult,
        lanczos_density as lanczos_density,
        native_available as native_available,
        singular_values as singular_values,
        spectrum as spectrum,
    )
    from .kernels import (
        DENSE_INIT_NAMES as DENSE_INIT_NAMES,
        INIT_NAMES as INIT_NAMES,
        conv_kernel as conv_kernel,
        delta_orthogonal_ as delta_orthogonal_,
        dense_weight as dense_weight,
        gaussian_conv_ as gaussian_conv_,
        haar_orthogonal as haar_orthogonal,
        orth_kernel_factored as orth_kernel_factored,
        orthogonal_conv_ as orthogonal_conv_,
        variance_vector as variance_vector,
    )
    from .meanfield import (
        c_star as c_star,
        chi_1 as chi_1,
        chi_c as chi_c,
        chi_q as chi_q,
        critical_point as critical_point,
        critical_sigma_w as critical_sigma_w,
        depth_scale as depth_scale,
        fourier_eigenvalues as fourier_eigenvalues,
        mean_field as mean_field,
        mode_depth_scales as mode_depth_scales,
        operating_point as operating_point,
        phase_grid as phase_grid,
        q_star as q_star,
    )
    from .network import (
        VanillaCNN as VanillaCNN,
    )
    from .operators import (
        conv_matrix as conv_matrix,
        conv_singular_values as conv_singular_values,
    )
    from .outputs import (
        atomic_output as atomic_output,
    )
    from .rmt import (
        density_frame as density_frame,
        jacobian_density as jacobian_density,
        ks_distance as ks_distance,
        marchenko_pastur_cdf as marchenko_pastur_cdf,
        marchenko_pastur_density as marchenko_pastur_density,
        quarter_circle_cdf as quarter_circle_cdf,
        quarter_circle_density as quarter_circle_density,
        theory_moments as theory_moments,
        wasserstein_log as wasserstein_log,
    )
    from .studies import (
        correlate_job as correlate_job,
        spearman_table as spearman_table,
        trainability_job as trainability_job,
    )
    from .sweep import (
        job_key as job_key,
        run_jobs as run_jobs,
    )
    from .tables import (
        write_csv as write_csv,
    )
    from .training import (
        Classifier as Classifier,
        TrainConfig as TrainConfig,
        accuracy_after as accuracy_after,
        build_model as build_model,
        read_history as read_history,
        steps_to_accuracy as steps_to_accuracy,
        train as train,
    )


def _read_exports() -> dict[str, str]:
    """public name -> submodule, from the ``TYPE_CHECKING`` block of this file."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    guard = next(
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    )
    return {a.asname or a.name: n.module for n in guard.body for a in n.names}


_EXPORTS = _read_exports()
_SUBMODULES = frozenset(
    {
        "activations",
        "cli",
        "data",
        "errors",
        "jacobian",
        "kernels",
        "meanfield",
        "network",
        "operators",
        "outputs",
        "plots",
        "quadrature",
        "rmt",
        "studies",
        "sweep",
        "tables",
        "training",
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
