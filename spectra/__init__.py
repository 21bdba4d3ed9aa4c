"""spectra: signal propagation and Jacobian spectra of very deep vanilla CNNs.

Implements Xiao et al. (2018), "Dynamical Isometry and a Mean Field Theory of CNNs".
Formulas are cited by their number in THEORY.md ([T1]-[T34]).
"""

from __future__ import annotations

from .activations import Activation, get_activation
from .errors import SpectraError

__version__ = "0.1.0"

__all__ = ["Activation", "SpectraError", "get_activation", "__version__"]
