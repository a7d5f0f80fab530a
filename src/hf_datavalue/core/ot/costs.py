"""Ground costs as objects that hand out row blocks, so a huge problem never materialises an N x M matrix.

* [`DenseCost`] wraps a given matrix;
* [`PointCloudCost`] computes `feature_weight * ||x_i - y_j||^2 (+ label_table[lx_i, ly_j])` block by block.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ConfigError, EmptyDatasetError, NonFiniteError, ShapeMismatchError

__all__ = ["ArrayLike", "CostMatrix", "DenseCost", "PointCloudCost"]

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]

# Cost entries held at once by one row block (about 64 MB in float32).
_BLOCK_ENTRIES = 1 << 24


def _block_rows(n_rows: int, n_cols: int, block_size: int | None) -> int:
    if block_size is not None:
        return max(1, int(block_size))
    return max(1, min(n_rows, _BLOCK_ENTRIES // max(n_cols, 1)))


def _as_tensor(x: ArrayLike, dtype: torch.dtype, device: torch.device | str, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    t = t.to(device=device, dtype=dtype)
    if not torch.isfinite(t).all():
        raise NonFiniteError(f"{what} holds NaN or infinite entries; clean or re-embed them before running OT")
    return t


class CostMatrix(ABC):
    """An N x M ground cost that can hand out row blocks. Subclasses implement [`rows`] and [`upper_bound`]."""

    shape: tuple[int, int]
    dtype: torch.dtype
    device: torch.device

    @abstractmethod
    def rows(self, start: int, stop: int) -> torch.Tensor:
        """The cost rows `start:stop` as a `(stop - start, M)` tensor."""

    @abstractmethod
    def upper_bound(self) -> float:
        """An upper bound of the largest entry, used to start epsilon annealing."""

    def sample_entries(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` cost entries at uniformly random positions (for relative epsilon)."""
        n_rows, n_cols = self.shape
        i = torch.randint(n_rows, (n,), generator=generator)
        j = torch.randint(n_cols, (n,), generator=generator)
        out = torch.empty(n, dtype=self.dtype, device=self.device)
        order = torch.argsort(i)
        i, j = i[order], j[order]
        step = max(1, _BLOCK_ENTRIES // max(n_cols, 1))
        for s in range(0, n, step):
            block_i, block_j = i[s : s + step], j[s : s + step]
            lo, hi = int(block_i.min()), int(block_i.max()) + 1
            block = self.rows(lo, hi)
            out[order[s : s + step]] = block[block_i - lo, block_j.to(self.device)]
        return out

    def dense(self) -> DenseCost:
        """Materialise the whole matrix (only for problems that fit in memory), block by block so the peak
        memory is the matrix plus one block, not several full-size temporaries."""
        n_rows, n_cols = self.shape
        out = torch.empty(n_rows, n_cols, dtype=self.dtype, device=self.device)
        step = _block_rows(n_rows, n_cols, None)
        for start in range(0, n_rows, step):
            out[start : start + step] = self.rows(start, min(start + step, n_rows))
        return DenseCost(out)


class DenseCost(CostMatrix):
    """A cost given as a full matrix.

    Args:
        matrix (`torch.Tensor` or `np.ndarray`): the `(N, M)` cost, finite.
    """

    def __init__(self, matrix: ArrayLike, dtype: torch.dtype | None = None, device: torch.device | str | None = None):
        m = torch.as_tensor(np.asarray(matrix) if not isinstance(matrix, torch.Tensor) else matrix)
        dtype = dtype or (m.dtype if m.is_floating_point() else torch.float32)
        self.matrix = _as_tensor(m, dtype, device or m.device, "cost matrix")
        if self.matrix.ndim != 2:
            raise ShapeMismatchError(f"a cost matrix must be 2-D, got shape {tuple(self.matrix.shape)}")
        self.shape = (int(self.matrix.shape[0]), int(self.matrix.shape[1]))
        self.dtype = self.matrix.dtype
        self.device = self.matrix.device

    def rows(self, start: int, stop: int) -> torch.Tensor:
        return self.matrix[start:stop]

    def upper_bound(self) -> float:
        return float(self.matrix.max())

    def dense(self) -> DenseCost:
        return self


class PointCloudCost(CostMatrix):
    """`feature_weight * ||x_i - y_j||^2 + label_table[x_labels_i, y_labels_j]`, computed block by block.

    Args:
        x (`torch.Tensor`): `(N, d)` source points.
        y (`torch.Tensor`): `(M, d)` target points.
        feature_weight (`float`, *optional*, defaults to 1.0): factor on the squared distance (0.5 for
            LAVA's `1/2 ||u - v||^2`, 1.0 for GOT-D).
        label_table (`torch.Tensor`, *optional*): `(C_x, C_y)` additive label cost (already weighted).
        x_labels, y_labels (`torch.Tensor`, *optional*): integer class ids indexing `label_table`.
        dtype, device: where the arithmetic runs.
    """

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        feature_weight: float = 1.0,
        label_table: ArrayLike | None = None,
        x_labels: ArrayLike | None = None,
        y_labels: ArrayLike | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        self.x = _as_tensor(x, dtype, device, "source features")
        self.y = _as_tensor(y, dtype, device, "target features")
        if self.x.ndim != 2 or self.y.ndim != 2:
            raise ShapeMismatchError("point clouds must be 2-D (rows x features)")
        if self.x.shape[1] != self.y.shape[1]:
            raise ShapeMismatchError(
                f"source features have width {self.x.shape[1]} but target features have width {self.y.shape[1]}: "
                "embed both sides with the same model"
            )
        if len(self.x) == 0 or len(self.y) == 0:
            raise EmptyDatasetError("optimal transport needs at least one point on each side")
        self.feature_weight = float(feature_weight)
        self.shape = (int(self.x.shape[0]), int(self.y.shape[0]))
        self.dtype = dtype
        self.device = self.x.device
        self._x_sq = (self.x * self.x).sum(1)
        self._y_sq = (self.y * self.y).sum(1)
        self.label_table: torch.Tensor | None = None
        if label_table is not None:
            if x_labels is None or y_labels is None:
                raise ConfigError("a label table needs both x_labels and y_labels")
            self.label_table = _as_tensor(label_table, dtype, device, "label cost table")
            self.x_labels = torch.as_tensor(np.asarray(x_labels), device=self.device).long()
            self.y_labels = torch.as_tensor(np.asarray(y_labels), device=self.device).long()
            if len(self.x_labels) != self.shape[0] or len(self.y_labels) != self.shape[1]:
                raise ShapeMismatchError("x_labels/y_labels must have one entry per point")

    def rows(self, start: int, stop: int) -> torch.Tensor:
        xb = self.x[start:stop]
        sq = self._x_sq[start:stop, None] + self._y_sq[None, :] - 2.0 * (xb @ self.y.T)
        block = sq.clamp_(min=0.0).mul_(self.feature_weight)
        if self.label_table is not None:
            block += self.label_table[self.x_labels[start:stop]][:, self.y_labels]
        return block

    def upper_bound(self) -> float:
        # ||x - y||^2 <= (max||x - cx|| + max||y - cx|| + ...) : bound through the joint centroid.
        center = torch.cat([self.x, self.y]).mean(0)
        rx = (self.x - center).norm(dim=1).max()
        ry = (self.y - center).norm(dim=1).max()
        bound = self.feature_weight * float((rx + ry) ** 2)
        if self.label_table is not None:
            bound += float(self.label_table.max())
        return bound
