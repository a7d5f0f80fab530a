from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import small_slice, with_bow


@pytest.fixture(scope="module")
def lama_slice(shared_data: Path):
    """40 real queries (4 relations) and a ~440-row corpus holding their proponents, with a `bow` column."""
    corpus, queries = small_slice(shared_data, n_queries=40, n_extra=400)
    return with_bow(corpus), queries
