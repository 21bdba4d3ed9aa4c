"""Shared test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_thread():
    """Run the test with one torch intra-op thread, then restore the count.

    The tests' tensors are small: on a busy 2-core machine OpenMP's barrier spins and tiny
    LAPACK calls and convs run 10-100x slower with two threads. Numbers do not depend on it.
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _hypothesis_profiles() -> None:
    """Profiles for the property-based tests: ``default`` (30 examples per test,
    derandomized so the suite is reproducible) and ``slow`` (250 per test, random),
    chosen with the environment variable HYPOTHESIS_PROFILE. No example database is kept
    (nothing is written into the work tree)."""
    import os

    from hypothesis import HealthCheck, settings

    common = dict(
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.register_profile("default", max_examples=30, derandomize=True, **common)
    settings.register_profile("slow", max_examples=250, **common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


_hypothesis_profiles()
