from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny OT problems run far faster on one thread than on an oversubscribed shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
