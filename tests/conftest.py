"""Shared test fixtures. The environment is made hermetic before any HF library is imported."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# HF libraries read these at import time: set them before anything imports huggingface_hub/datasets.
_HF_HOME = tempfile.mkdtemp(prefix="hf_datavalue-test-hf-home-")
os.environ.setdefault("HF_HOME", _HF_HOME)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_UPDATE_CHECK"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# `from tests.contract import ...` in the contract cases, whatever directory pytest is started from.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def shared_data_dir() -> Path:
    """`../shared/data` beside the checkout (override with HF_DATAVALUE_SHARED_DATA)."""
    env = os.environ.get("HF_DATAVALUE_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        msg = f"shared data folder not found at {path}: check out ../shared or set HF_DATAVALUE_SHARED_DATA"
        if os.environ.get("CI"):
            pytest.fail(msg)  # CI must never pass by skipping the real-data checks
        pytest.skip(msg)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
