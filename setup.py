"""Build the optional native kernels (spectra/jacobian/_kernel.c for the Jacobian engine,
spectra/training/_train_kernel.c for training); the rest is in pyproject.toml.

Both extensions are optional: without a C compiler the package installs and runs, and the
Jacobian engine and the training loop use their PyTorch paths
(``spectra.jacobian.native_available()``, ``spectra.training.fast_available()``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "spectra.jacobian._kernel",
            sources=["spectra/jacobian/_kernel.c"],
            extra_compile_args=["-O3", "-fno-strict-aliasing"],
            optional=True,
        ),
        Extension(
            "spectra.training._train_kernel",
            sources=["spectra/training/_train_kernel.c"],
            extra_compile_args=["-O3", "-fno-strict-aliasing"],
            optional=True,
        ),
    ]
)
