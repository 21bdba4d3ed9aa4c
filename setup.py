"""Build the optional native kernel (spectra/_native.c); everything else is in pyproject.toml.

The extension is optional: without a C compiler the package installs and runs, and the
Jacobian engine uses its portable path (``spectra.factored.native_available()`` says which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "spectra._native",
            sources=["spectra/_native.c"],
            extra_compile_args=["-O3", "-fno-strict-aliasing"],
            optional=True,
        )
    ]
)
