"""End-to-end input-output Jacobians J = prod D_l W_l ([T21]-[T24]): the stack, the
methods (forward, dense, stable, Lanczos), and the optional native pushes. How the
engine is built is in ``spectra/jacobian/README.md``.
"""

from ._engine import exact_float32 as exact_float32, tune_allocator as tune_allocator
from ._generic import (
    MEMORY_BUDGET as MEMORY_BUDGET,
    as_stages as as_stages,
    chunk_size as chunk_size,
    model_jacobian as model_jacobian,
    model_operator as model_operator,
    model_spectrum as model_spectrum,
    model_stable_spectrum as model_stable_spectrum,
)
from ._lanczos import (
    JacobianOperator as JacobianOperator,
    lanczos_density as lanczos_density,
)
from ._native import (
    NATIVE_CHANNELS as NATIVE_CHANNELS,
    native_available as native_available,
    native_preferred as native_preferred,
    native_route as native_route,
    native_shape_supported as native_shape_supported,
    native_supported as native_supported,
)
from ._slq import (
    slq_density as slq_density,
    slq_nodes as slq_nodes,
    w1_log_lambda as w1_log_lambda,
)
from ._spectrum import (
    DENSE_MAX_N as DENSE_MAX_N,
    FULL_SVD_MAX_N as FULL_SVD_MAX_N,
    METHODS as METHODS,
    ConvStack as ConvStack,
    SpectrumResult as SpectrumResult,
    generic_jacobian as generic_jacobian,
    jacobian_dense as jacobian_dense,
    jacobian_forward as jacobian_forward,
    singular_values as singular_values,
    spectrum as spectrum,
    stable_spectrum as stable_spectrum,
)
from ._stable import (
    LogTriangular as LogTriangular,
    jacobi_log_singular_values as jacobi_log_singular_values,
    qr_positive as qr_positive,
)

__all__ = [
    "exact_float32",
    "DENSE_MAX_N",
    "METHODS",
    "ConvStack",
    "SpectrumResult",
    "spectrum",
    "singular_values",
    "jacobian_forward",
    "jacobian_dense",
    "stable_spectrum",
    "generic_jacobian",
    "tune_allocator",
    "FULL_SVD_MAX_N",
    "lanczos_density",
    "JacobianOperator",
    "slq_nodes",
    "MEMORY_BUDGET",
    "as_stages",
    "chunk_size",
    "model_jacobian",
    "model_operator",
    "model_spectrum",
    "model_stable_spectrum",
    "slq_density",
    "w1_log_lambda",
    "LogTriangular",
    "jacobi_log_singular_values",
    "qr_positive",
    "NATIVE_CHANNELS",
    "native_available",
    "native_preferred",
    "native_route",
    "native_supported",
    "native_shape_supported",
]
