"""The tables that the command line and the experiments share: Jacobian summaries against
theory, weight spectra (Fig S4), and the training studies (correlation, trainability).
"""

from ._jacobian import (
    SPECTRAL_STATS as SPECTRAL_STATS,
    bulk_frame as bulk_frame,
    density_frame_lanczos as density_frame_lanczos,
    outlier_theory as outlier_theory,
    spectral_stats as spectral_stats,
    summary_row as summary_row,
    sv_frame as sv_frame,
    theory_frame as theory_frame,
)
from ._training import (
    correlate_grid as correlate_grid,
    correlate_job as correlate_job,
    fit_depth_scale as fit_depth_scale,
    spearman_table as spearman_table,
    trainability_grid as trainability_grid,
    trainability_job as trainability_job,
    xi_c as xi_c,
    xi_c_curve as xi_c_curve,
)
from ._weights import (
    KS_COLUMNS as KS_COLUMNS,
    MAX_DENSE_SIDE as MAX_DENSE_SIDE,
    SV_COLUMNS as SV_COLUMNS,
    quarter_circle_ks as quarter_circle_ks,
    validate_study as validate_study,
    weight_ks as weight_ks,
    weight_singular_values as weight_singular_values,
    weight_theory as weight_theory,
)

__all__ = [
    "correlate_grid",
    "trainability_grid",
    "xi_c_curve",
    "SPECTRAL_STATS",
    "spectral_stats",
    "outlier_theory",
    "bulk_frame",
    "sv_frame",
    "summary_row",
    "theory_frame",
    "density_frame_lanczos",
    "SV_COLUMNS",
    "KS_COLUMNS",
    "quarter_circle_ks",
    "validate_study",
    "weight_singular_values",
    "weight_theory",
    "weight_ks",
    "MAX_DENSE_SIDE",
    "correlate_job",
    "spearman_table",
    "trainability_job",
    "xi_c",
    "fit_depth_scale",
]
