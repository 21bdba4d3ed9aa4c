"""Random-matrix theory of the Jacobian ([T25]-[T34]): the classical laws, the
free-probability solver for the spectrum of J J^T, densities and distances.
"""

from ._density import (
    density_frame as density_frame,
    derivative_law as derivative_law,
    frame_moments as frame_moments,
    jacobian_density as jacobian_density,
    jacobian_log_density as jacobian_log_density,
    theory_moments as theory_moments,
    weight_law as weight_law,
)
from ._distances import (
    ks_distance as ks_distance,
    scale_frame as scale_frame,
    wasserstein_log as wasserstein_log,
)
from ._laws import (
    marchenko_pastur_cdf as marchenko_pastur_cdf,
    marchenko_pastur_density as marchenko_pastur_density,
    quarter_circle_cdf as quarter_circle_cdf,
    quarter_circle_density as quarter_circle_density,
)

__all__ = [
    "marchenko_pastur_density",
    "marchenko_pastur_cdf",
    "quarter_circle_density",
    "quarter_circle_cdf",
    "derivative_law",
    "theory_moments",
    "jacobian_density",
    "jacobian_log_density",
    "density_frame",
    "frame_moments",
    "ks_distance",
    "wasserstein_log",
    "scale_frame",
    "weight_law",
]
