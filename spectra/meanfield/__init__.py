"""Mean-field theory of deep CNNs ([T10]-[T20]): the q- and c-maps and their fixed points,
the critical line, the phase grid, Fourier-mode depth scales and the conv covariance map.
"""

from ._conv import (
    appendix_f_perturbation as appendix_f_perturbation,
    ensemble_first_diagonal as ensemble_first_diagonal,
    first_diagonal_modes as first_diagonal_modes,
    fit_decay_rate as fit_decay_rate,
    fixed_point_covariance as fixed_point_covariance,
    iterate_covariance_map as iterate_covariance_map,
)
from ._covmap import (
    covariance_map as covariance_map,
    pair_expectation as pair_expectation,
)
from ._critical import (
    critical_point as critical_point,
    critical_sigma_w as critical_sigma_w,
    operating_point as operating_point,
)
from ._grid import (
    critical_line as critical_line,
    phase_grid as phase_grid,
)
from ._maps import (
    c_map as c_map,
    c_star as c_star,
    chi_1 as chi_1,
    chi_c as chi_c,
    chi_q as chi_q,
    depth_scale as depth_scale,
    mean_field as mean_field,
    q_map as q_map,
    q_star as q_star,
)
from ._modes import (
    fourier_eigenvalues as fourier_eigenvalues,
    mode_depth_scales as mode_depth_scales,
    modes_frame as modes_frame,
    sorted_singular_values as sorted_singular_values,
)
from ._radial import (
    radial_log_singular_value as radial_log_singular_value,
    radial_mode_count as radial_mode_count,
)

__all__ = [
    "q_map",
    "q_star",
    "chi_1",
    "chi_q",
    "c_map",
    "c_star",
    "chi_c",
    "depth_scale",
    "mean_field",
    "critical_point",
    "critical_sigma_w",
    "operating_point",
    "phase_grid",
    "critical_line",
    "fourier_eigenvalues",
    "mode_depth_scales",
    "sorted_singular_values",
    "modes_frame",
    "fixed_point_covariance",
    "covariance_map",
    "pair_expectation",
    "iterate_covariance_map",
    "first_diagonal_modes",
    "appendix_f_perturbation",
    "ensemble_first_diagonal",
    "fit_decay_rate",
    "radial_log_singular_value",
    "radial_mode_count",
]
