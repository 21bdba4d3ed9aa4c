"""Convolution kernels of the paper's initialisations ([T3]-[T9]) as ``torch.nn.init``-style
functions: Gaussian and GS draws, Algorithm 1 (orthogonal) and Algorithm 2
(delta-orthogonal), dense weights, and Algorithm 1 in its factored form.
"""

from ._draw import (
    DENSE_INIT_NAMES as DENSE_INIT_NAMES,
    GAUSSIAN_INIT_NAMES as GAUSSIAN_INIT_NAMES,
    INIT_NAMES as INIT_NAMES,
    conv_kernel as conv_kernel,
    delta_orthogonal_ as delta_orthogonal_,
    dense_weight as dense_weight,
    gaussian_conv_ as gaussian_conv_,
    haar_orthogonal as haar_orthogonal,
    orthogonal_conv_ as orthogonal_conv_,
    random_projection as random_projection,
    variance_vector as variance_vector,
)
from ._factored import (
    FactoredLayer as FactoredLayer,
    OrthFactors as OrthFactors,
    factors_of as factors_of,
    orth_kernel_factored as orth_kernel_factored,
)

__all__ = [
    "INIT_NAMES",
    "GAUSSIAN_INIT_NAMES",
    "DENSE_INIT_NAMES",
    "conv_kernel",
    "variance_vector",
    "dense_weight",
    "haar_orthogonal",
    "random_projection",
    "orthogonal_conv_",
    "delta_orthogonal_",
    "gaussian_conv_",
    "OrthFactors",
    "FactoredLayer",
    "factors_of",
    "orth_kernel_factored",
]
