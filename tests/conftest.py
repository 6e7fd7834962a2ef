"""Fixtures shared by several test files."""

import pytest
import torch


@pytest.fixture
def deterministic():
    """Deterministic algorithms for one test, restored afterwards (the flag is process-global)."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)
