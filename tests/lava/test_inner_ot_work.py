"""specs/lava.md §11 check 8 (inner-OT work), measured on the solver calls themselves.

The class table reports how many inner problems it solved, but that number is the length of its own loop. This
test wraps the core Sinkhorn, records every problem LAVA actually hands it, and identifies both point clouds of
each problem by their rows: exactly one problem per (train class, validation class) pair, each with all the
rows of that class on each side, no train-train or validation-validation problem, and one outer problem.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest
import torch

import hf_datavalue.core.ot as core_ot
from hf_datavalue.lava import compute_lava_values

from .test_lava import gaussian_classes, raw_config


def _owner(cloud: torch.Tensor, train_x: np.ndarray, train_y: np.ndarray, valid_x: np.ndarray, valid_y: np.ndarray):
    """`("train" | "valid" | "mixed", classes, n_rows)` of a point cloud, matched row by row."""
    pts = cloud.detach().double().cpu().numpy()
    sides, classes = set(), set()
    for side, feats, labels in (("train", train_x, train_y), ("valid", valid_x, valid_y)):
        d = ((pts[:, None, :] - feats[None, :, :]) ** 2).sum(-1)
        hit = d.min(1) < 1e-10
        if hit.any():
            sides.add(side)
            classes.update(labels[d.argmin(1)[hit]].tolist())
        if hit.all():
            break
    side = sides.pop() if len(sides) == 1 else "mixed"
    return side, frozenset(classes), len(pts)


@pytest.fixture
def recorded_problems(monkeypatch):
    calls: list = []
    original = core_ot.sinkhorn

    def recording_sinkhorn(cost, *args, **kwargs):
        calls.append(cost)
        return original(cost, *args, **kwargs)

    # every module of the library that imported the solver by name, so no call path escapes the count
    for name, module in list(sys.modules.items()):
        if name.startswith("hf_datavalue") and getattr(module, "sinkhorn", None) is original:
            monkeypatch.setattr(module, "sinkhorn", recording_sinkhorn)
    return calls


@pytest.mark.parametrize("drop_valid_class", [None, 3])
def test_exactly_one_inner_problem_per_cross_class_pair(recorded_problems, drop_valid_class):
    train, valid, _ = gaussian_classes(160, 80, 4, 5, 0.1, seed=11)
    if drop_valid_class is not None:  # a class missing on one side works without index offsets
        valid = valid.filter(lambda row: row["label"] != drop_valid_class)
    result = compute_lava_values(train, valid, raw_config(allow_missing_classes=True), progress=False)
    assert np.isfinite(result.values).all()

    tx, ty = np.asarray(train["embedding"], dtype=np.float64), np.asarray(train["label"])
    vx, vy = np.asarray(valid["embedding"], dtype=np.float64), np.asarray(valid["label"])
    t_count, v_count = Counter(ty.tolist()), Counter(vy.tolist())
    problems = []
    for cost in recorded_problems:
        assert isinstance(cost, core_ot.PointCloudCost), type(cost)
        problems.append((_owner(cost.x, tx, ty, vx, vy), _owner(cost.y, tx, ty, vx, vy)))

    outer = [p for p in problems if p[0][2] == len(tx) and p[1][2] == len(vx)]
    inner = [p for p in problems if p not in outer]
    assert len(outer) == 1
    # no train-train or val-val block, and each inner cloud is one whole class of one side
    for (x_side, x_classes, nx), (y_side, y_classes, ny) in inner:
        assert (x_side, y_side) == ("train", "valid")
        assert len(x_classes) == 1 and len(y_classes) == 1
        assert nx == t_count[next(iter(x_classes))] and ny == v_count[next(iter(y_classes))]
    pairs = Counter((next(iter(p[0][1])), next(iter(p[1][1]))) for p in inner)
    expected = {(i, j) for i in t_count for j in v_count}
    assert set(pairs) == expected and all(n == 1 for n in pairs.values())
    assert len(inner) == len(t_count) * len(v_count)  # C_t * C_v
