"""Projektor test fixtures: one torch and one BLAS thread (the kernels contend badly on a shared 2-core machine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):  # BLAS/OpenMP of scikit-learn and numpy
        yield
    torch.set_num_threads(before)
