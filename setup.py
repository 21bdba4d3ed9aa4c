"""Build the optional native kernel (spectra/jacobian/_kernel.c); the rest is in pyproject.toml.

The extension is optional: without a C compiler the package installs and runs, and the
Jacobian engine uses its portable path (``spectra.jacobian.native_available()`` says which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "spectra.jacobian._kernel",
            sources=["spectra/jacobian/_kernel.c"],
            extra_compile_args=["-O3", "-fno-strict-aliasing"],
            optional=True,
        )
    ]
)
