"""The class-wise (OTDD) distance of LAVA, Projektor and DAM: a hybrid feature + label cost and its outer solve.

Between labelled clouds `(x, x_labels)` and `(y, y_labels)` the ground cost is (`specs/lava.md` §3)

    C((u, c), (v, c')) = 0.5 * lambda_x * ||u - v||^2 + 0.5 * lambda_y * W(c, c')

where `W(c, c')` is the entropic OT value (at `inner_eps`, under `0.5 ||u - v||^2`) between the class-conditional
clouds. [`classwise_ot`] solves it and returns the potentials; [`classwise_divergence`] debiases it
(`S = OT(x, y) - OT(x, x) / 2 - OT(y, y) / 2`).

Usage:

```python
import numpy as np
from hf_datavalue.core.ot import classwise_ot, classwise_divergence

rng = np.random.default_rng(0)
x, y = rng.normal(size=(200, 8)), rng.normal(size=(100, 8))
xl, yl = rng.integers(0, 3, 200), rng.integers(0, 3, 100)
res = classwise_ot(x, xl, y, yl, dtype="float64")
res.value, res.result.f  # OT value and per-point potentials of x
classwise_divergence(x, xl, y, yl, dtype="float64").divergence
```
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from ..distributed import resolve_device
from ..errors import ConfigError, ShapeMismatchError
from .costs import ArrayLike, PointCloudCost, _as_tensor
from .sinkhorn import DEFAULT_MAX_DENSE_ENTRIES, OTMode, OTResult, sinkhorn

__all__ = ["ClasswiseOT", "SinkhornDivergence", "class_distance_table", "classwise_divergence", "classwise_ot"]

logger = logging.getLogger(__name__)


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in ("float32", "float64"):
        raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return torch.float64 if dtype == "float64" else torch.float32


def class_distance_table(
    x: torch.Tensor,
    x_labels: torch.Tensor,
    y: torch.Tensor,
    y_labels: torch.Tensor,
    n_x_classes: int,
    n_y_classes: int,
    *,
    eps: float = 0.1,
    feature_weight: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    momentum: float = 1.0,
    x_weights: torch.Tensor | None = None,
    y_weights: torch.Tensor | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, int]:
    """Entropic OT distance between every (source class, target class) pair of label-conditional clouds.

    Only the `n_x_classes x n_y_classes` block is solved (no source-source or target-target pairs, unlike the
    reference). Classes absent on one side (or holding no mass) get `+inf` rows/columns (never looked up).
    With `x_weights`/`y_weights`, each class cloud is weighted by the points' masses.

    Returns:
        `(table, n_problems)`: the `(C_x, C_y)` table of OT values and the number of inner problems solved.
    """
    table = torch.full((n_x_classes, n_y_classes), math.inf, dtype=x.dtype, device=x.device)

    def members(labels: torch.Tensor, weights: torch.Tensor | None, c: int) -> torch.Tensor:
        mask = labels == c
        if weights is not None:
            mask &= weights > 0
        return torch.nonzero(mask).flatten()

    x_members = [members(x_labels, x_weights, c) for c in range(n_x_classes)]
    y_members = [members(y_labels, y_weights, c) for c in range(n_y_classes)]
    pairs = [(i, j) for i in range(n_x_classes) for j in range(n_y_classes) if len(x_members[i]) and len(y_members[j])]
    iterator: Any = pairs
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(pairs, desc="Class distances", leave=False)
    for i, j in iterator:
        xi, yj = x_members[i], y_members[j]
        inner = PointCloudCost(x[xi], y[yj], feature_weight=feature_weight, dtype=x.dtype, device=x.device)
        a = x_weights[xi] if x_weights is not None else None
        b = y_weights[yj] if y_weights is not None else None
        table[i, j] = sinkhorn(inner, a, b, eps=eps, tol=tol, max_iter=max_iter, momentum=momentum).value
    return table, len(pairs)


@dataclass
class ClasswiseOT:
    """The solution of a class-wise OT problem.

    Attributes:
        result ([`OTResult`]): the outer solve: potentials `f` (source rows), `g` (target rows), value, diagnostics.
        label_distances (`torch.Tensor`): the `(C, C)` class-to-class table `W` (`+inf` for absent classes).
        timings (`dict`): seconds for `label_distances` and `solve` (the latter includes building the cost).
    """

    result: OTResult
    label_distances: torch.Tensor
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def value(self) -> float:
        return self.result.value


def _labels(labels: ArrayLike, n: int, what: str, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels, device=device)
    if t.ndim != 1 or len(t) != n:
        raise ShapeMismatchError(f"{what} must hold one integer class id per row ({n}), got shape {tuple(t.shape)}")
    if t.is_floating_point() or (len(t) and int(t.min()) < 0):
        raise ShapeMismatchError(f"{what} must be non-negative integer class ids (encode labels first)")
    return t.long()


def classwise_ot(
    x: ArrayLike,
    x_labels: ArrayLike,
    y: ArrayLike,
    y_labels: ArrayLike,
    *,
    n_classes: int | None = None,
    x_weights: ArrayLike | None = None,
    y_weights: ArrayLike | None = None,
    lambda_x: float = 1.0,
    lambda_y: float = 1.0,
    inner_eps: float = 0.1,
    inner_tol: float = 1e-3,
    label_table: ArrayLike | None = None,
    eps: float = 0.1,
    eps_mode: Literal["absolute", "relative"] = "absolute",
    tol: float = 1e-4,
    max_iter: int = 3000,
    momentum: float = 1.0,
    mode: OTMode = "auto",
    block_size: int | None = None,
    max_dense_entries: int = DEFAULT_MAX_DENSE_ENTRIES,
    dtype: str | torch.dtype = "float32",
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = False,
) -> ClasswiseOT:
    """Class-wise entropic OT between two labelled point clouds (the OTDD distance of LAVA and Projektor).

    Args:
        x, y (`array`): `(N, d)` and `(M, d)` features.
        x_labels, y_labels (`array`): integer class ids in `[0, n_classes)` (one shared class space).
        n_classes (`int`, *optional*): number of classes; defaults to the largest id + 1.
        x_weights, y_weights (`array`, *optional*): point masses (marginals), uniform when omitted; a mixture of
            sources can be expressed as weights over the union of their points.
        lambda_x, lambda_y (`float`): weights of the feature and label terms (`lambda_y=0` skips the label table).
        inner_eps, inner_tol: regularisation and tolerance of the class-to-class problems.
        label_table (`array`, *optional*): a precomputed `(C, C)` table `W` (skips the inner problems).
        eps, eps_mode, tol, max_iter, momentum, mode, block_size, max_dense_entries, seed: the outer
            [`sinkhorn`] arguments.
        dtype (`str`, *optional*, defaults to `"float32"`): `"float64"` for exact work.
        device (`str`, *optional*, defaults to `"cpu"`): `"auto"` picks CUDA when present.

    Returns:
        [`ClasswiseOT`]
    """
    if lambda_x < 0 or lambda_y < 0 or lambda_x + lambda_y == 0:
        raise ConfigError("lambda_x and lambda_y must be non-negative and not both zero")
    dev, dt = torch.device(resolve_device(str(device))), resolve_dtype(dtype)
    xt = _as_tensor(x, dt, dev, "source features")
    yt = _as_tensor(y, dt, dev, "target features")
    xl = _labels(x_labels, len(xt), "x_labels", dev)
    yl = _labels(y_labels, len(yt), "y_labels", dev)
    xw = _as_tensor(x_weights, dt, dev, "x_weights") if x_weights is not None else None
    yw = _as_tensor(y_weights, dt, dev, "y_weights") if y_weights is not None else None
    top = max(int(xl.max()) if len(xl) else -1, int(yl.max()) if len(yl) else -1) + 1
    c = int(n_classes) if n_classes is not None else top
    if top > c:
        raise ShapeMismatchError(f"class id {top - 1} is out of range for n_classes={c}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if label_table is not None:
        table = (
            _as_tensor(label_table, dt, dev, "label table")
            if not isinstance(label_table, torch.Tensor)
            else label_table
        )
        table = table.to(device=dev, dtype=dt)
        if tuple(table.shape) != (c, c):
            raise ShapeMismatchError(f"label_table has shape {tuple(table.shape)}, expected ({c}, {c})")
    elif lambda_y > 0:
        table, n_problems = class_distance_table(
            xt, xl, yt, yl, c, c, eps=inner_eps, feature_weight=0.5, tol=max(tol, inner_tol), max_iter=max_iter,
            momentum=momentum, x_weights=xw, y_weights=yw, progress=progress,
        )  # fmt: skip
        logger.debug("class-wise OT solved %d class-to-class problems", n_problems)
    else:
        table = torch.zeros(c, c, dtype=dt, device=dev)
    timings["label_distances"] = time.perf_counter() - t0
    use_labels = lambda_y > 0
    # Classes absent on one side have +inf entries that are never looked up; keep the cost finite.
    label_cost = 0.5 * lambda_y * torch.nan_to_num(table, posinf=0.0) if use_labels else None
    cost = PointCloudCost(
        xt, yt, feature_weight=0.5 * lambda_x, label_table=label_cost,
        x_labels=xl if use_labels else None, y_labels=yl if use_labels else None, dtype=dt, device=dev,
    )  # fmt: skip
    t1 = time.perf_counter()
    result = sinkhorn(
        cost, xw, yw, eps=eps, eps_mode=eps_mode, tol=tol, max_iter=max_iter, mode=mode, block_size=block_size,
        max_dense_entries=max_dense_entries, momentum=momentum, seed=seed, progress=progress,
    )  # fmt: skip
    timings["solve"] = time.perf_counter() - t1
    return ClasswiseOT(result=result, label_distances=table, timings=timings)


@dataclass
class SinkhornDivergence:
    """The debiased class-wise Sinkhorn divergence `S = OT(x, y) - OT(x, x) / 2 - OT(y, y) / 2`.

    Attributes:
        divergence (`float`): `S` (non-negative up to solver error; zero when the clouds coincide).
        ot_xy, ot_xx, ot_yy (`float`): the three OT values (all at the same absolute epsilon).
        potentials ([`ClasswiseOT`]): the `(x, y)` problem (non-debiased potentials, for gradients).
    """

    divergence: float
    ot_xy: float
    ot_xx: float
    ot_yy: float
    potentials: ClasswiseOT


def classwise_divergence(
    x: ArrayLike, x_labels: ArrayLike, y: ArrayLike, y_labels: ArrayLike, **kwargs: Any
) -> SinkhornDivergence:
    """The debiased class-wise Sinkhorn divergence (Projektor's predictor feature); arguments as [`classwise_ot`].

    The self terms reuse the absolute epsilon of the `(x, y)` problem, so a relative `eps_mode` is resolved once.
    """
    xy = classwise_ot(x, x_labels, y, y_labels, **kwargs)
    self_kwargs = dict(kwargs, eps=xy.result.eps, eps_mode="absolute")
    self_kwargs.pop("label_table", None)
    xw, yw = self_kwargs.pop("x_weights", None), self_kwargs.pop("y_weights", None)
    xx = classwise_ot(x, x_labels, x, x_labels, x_weights=xw, y_weights=xw, **self_kwargs)
    yy = classwise_ot(y, y_labels, y, y_labels, x_weights=yw, y_weights=yw, **self_kwargs)
    value = xy.value - 0.5 * (xx.value + yy.value)
    return SinkhornDivergence(divergence=value, ot_xy=xy.value, ot_xx=xx.value, ot_yy=yy.value, potentials=xy)
