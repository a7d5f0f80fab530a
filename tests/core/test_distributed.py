"""core.distributed in one process (the multi-process paths run in tests/gotd/test_distributed.py)."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.core.distributed import (
    ProcessContext,
    _pack,
    _unpack,
    contiguous_ranges,
    process_context,
    sharded_embedding_matrix,
)
from hf_datavalue.core.embeddings import PixelEmbedder
from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, MissingColumnError


@pytest.mark.parametrize("n,world,align", [(0, 2, 64), (10, 3, 1), (300, 2, 64), (100, 8, 32), (65, 2, 64)])
def test_contiguous_ranges_cover_in_order_on_batch_boundaries(n, world, align):
    ranges = contiguous_ranges(n, world, align)
    assert len(ranges) == world
    flat = [i for a, b in ranges for i in range(a, b)]
    assert flat == list(range(n))  # a partition, in order
    assert all(a % align == 0 for a, b in ranges if b > a)
    with pytest.raises(ConfigError):
        contiguous_ranges(n, 0, align)


def test_single_process_context(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = process_context()
    assert (ctx.rank, ctx.world, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    assert all(ctx.owns(i) for i in range(5))
    assert ctx.gather(3) == [3] and ctx.broadcast("x") == "x" and ctx.on_main(lambda a: a + 1, 1) == 2
    ctx.check_same("config", {"a": 1})  # nothing to compare with
    ctx.raise_any(None)
    with pytest.raises(EmptyDatasetError):
        ctx.raise_any(EmptyDatasetError("empty"))
    # an owner map for 3 ranks: round-robin
    three = ProcessContext()
    three.rank, three.world = 1, 3
    assert [i for i in range(7) if three.owns(i)] == [1, 4]


def test_errors_cross_ranks_with_their_class_and_message():
    err = _unpack(_pack(MissingColumnError("pool dataset", "text", ["a"])))
    assert isinstance(err, MissingColumnError) and "no column 'text'" in str(err)
    assert _pack(None) is None


def test_sharded_embedding_matrix_in_one_process_is_the_plain_path():
    ds = Dataset.from_dict({"x": np.arange(12, dtype=np.float32).reshape(6, 2).tolist()})
    x = sharded_embedding_matrix(ds, "x", PixelEmbedder(), batch_size=4, progress=False)
    np.testing.assert_array_equal(x, np.arange(12, dtype=np.float32).reshape(6, 2))
