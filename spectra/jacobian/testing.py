"""The test suite's hook into the engine's internals (not API: no stability promised).

Tests that pin down how the engine schedules work (its serial/pool choice, slicing, the
native fallback, the stable method's sweep threshold) reach the private modules through
this one documented door instead of importing underscore names:

- ``engine``: the tangent-push engine (``engine._Engine``);
- ``stable``: the discrete-QR method's internals;
- ``native``: the binding to the optional native kernel.
"""

from . import _engine as engine, _native as native, _stable as stable

__all__ = ["engine", "native", "stable"]
