"""The test suite's hook into the mean-field internals (not API: no stability promised).

Tests that compare an internal branch with its direct formula (the small-q Taylor series
of the critical line against the quadrature it replaces) reach the private modules here:

- ``maps``: the q- and c-maps and their quadrature helpers;
- ``critical``: the critical line and its series branch.
"""

from . import _critical as critical, _maps as maps

__all__ = ["critical", "maps"]
