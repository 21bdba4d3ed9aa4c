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
