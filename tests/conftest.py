"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture()
def one_thread():
    """One intra-op torch thread: the tests' tiny tensors gain nothing from more, and on a
    shared 2-core CPU the extra threads mostly wait."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
