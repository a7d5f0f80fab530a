from __future__ import annotations

import numpy as np
import pytest

from hf_datavalue.core.errors import EmptyDatasetError, NonFiniteError
from hf_datavalue.fasttrack import recursive_kmeans


@pytest.mark.parametrize("backend", ["sklearn", "faiss"])
def test_leaves_partition_and_respect_tau(backend):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 0.3, size=(150, 8)) for c in range(4)]).astype(np.float32)
    tree = recursive_kmeans(x, tau=40, branching=3, backend=backend, seed=1)
    assert tree.labels.shape == (600,)
    assert tree.sizes.max() <= 40 and tree.sizes.min() >= 1
    assert tree.sizes.sum() == 600  # each row in exactly one leaf
    assert len(set(tree.paths)) == tree.n_leaves
    assert tree.centroids.shape == (tree.n_leaves, 8)


def test_same_seed_same_clusters_other_seed_differs():
    x = np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32)
    a = recursive_kmeans(x, tau=30, seed=3)
    b = recursive_kmeans(x, tau=30, seed=3)
    c = recursive_kmeans(x, tau=30, seed=4)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.paths == b.paths
    assert not np.array_equal(a.labels, c.labels)


@pytest.mark.parametrize("backend", ["sklearn", "faiss"])
def test_degenerate_identical_embeddings_terminate(backend):
    tree = recursive_kmeans(np.ones((500, 4), np.float32), tau=100, backend=backend)
    assert tree.sizes.max() <= 100 and tree.sizes.sum() == 500
    assert tree.n_fallback_splits >= 1


def test_small_input_is_one_leaf_and_bad_input_raises():
    tree = recursive_kmeans(np.zeros((3, 2), np.float32), tau=5)
    assert tree.n_leaves == 1 and tree.paths == ["0"]
    with pytest.raises(EmptyDatasetError):
        recursive_kmeans(np.zeros((0, 2), np.float32))
    bad = np.zeros((5, 2), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(NonFiniteError):
        recursive_kmeans(bad)
