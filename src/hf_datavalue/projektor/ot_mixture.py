"""OT of a mixture of sources against a validation set (spec §2) and its source-level gradient (spec §5).

[`MixtureOT`] holds the pilot samples of m sources (features and integer labels) and the validation set. For a
mixture `p` at size `N` it evaluates the class-wise (LAVA / OTDD) distance
`d(i, j) = λ_x·½‖u_i − v_j‖² + λ_y·½·W(y_i, y'_j)` at the reference's `eps = 1e-2`:

* `mixture_mode="resampled"` (reference): `D(N, p)` draws `round(N·p_i)` points from source i with replacement;
  `reps` draws, median taken.
* `mixture_mode="mass"`: the mixture weights become marginal masses `p_i / n_i` on the union of pilot points (no
  resampling, deterministic).

The predictor's feature is the debiased Sinkhorn divergence `S = OT(α, β) − ½OT(α, α) − ½OT(β, β)`
(`distance="debiased"`) or the plain value; the gradient always uses the potentials `f` of the non-debiased
problem: `∂OT/∂p_i ≈ mean_{S_i} f − mean_rest f` (a source with no mass gets `f` on its pilot points by a
c-transform). With `gradient="debiased"` (an extension, not the reference) the gradient is that of the debiased
divergence itself, `f_αβ − f_αα`, so a selector descends the same quantity the predictor reads.

Usage:

```python
from hf_datavalue.projektor import MixtureOT, ProjektorConfig

ot = MixtureOT([x1, x2, x3], [y1, y2, y3], x_val, y_val, config=ProjektorConfig())
ev = ot.evaluate([0.4, 0.3, 0.3], size=1000)
ev.value, ev.plain, ev.gradient        # predictor feature, plain OT, source-level gradient (length 3)
```
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.errors import ConfigError, EmptyDatasetError, LabelError, NonFiniteError, ShapeMismatchError
from ..core.ot import (
    OTResult,
    PointCloudCost,
    c_transform,
    class_distance_table,
    classwise_ot,
    group_calibrated_gradient,
)
from .config import ProjektorConfig
from .simplex import check_mixture

__all__ = ["MixtureEvaluation", "MixtureOT", "source_gradient"]

logger = logging.getLogger(__name__)


def source_gradient(
    f: np.ndarray | torch.Tensor, groups: np.ndarray, n_groups: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Source-level calibrated gradient `mean_{S_i} f − mean_rest f` for every group (spec §5), via the core's
    [`~hf_datavalue.core.ot.group_calibrated_gradient`] (mass-weighted means when `weights` are given).

    Invariant to `f + const`. A group with no points (or owning every point) gets NaN (the caller fills it).
    """
    ids = np.asarray(groups)
    present = [i for i in range(n_groups) if (ids == i).any()]
    out = np.full(n_groups, np.nan)
    if len(present) < 2:
        return out
    remap = np.full(n_groups, -1)
    remap[present] = np.arange(len(present))
    out[present] = group_calibrated_gradient(f, remap[ids], len(present), weights)
    return out


@dataclass
class MixtureEvaluation:
    """OT of one mixture at one size.

    Attributes:
        p (`np.ndarray`): the mixture.
        size (`int`): N.
        value (`float`): the predictor feature (debiased divergence or plain OT, per the config; median over reps).
        plain (`float`): the non-debiased OT value (median over reps).
        gradient (`np.ndarray`): source-level gradient `∂OT/∂p_i` of the plain OT (median over reps).
        values (`list[float]`): the feature of every rep.
    """

    p: np.ndarray
    size: int
    value: float
    plain: float
    gradient: np.ndarray
    values: list[float] = field(default_factory=list)


class MixtureOT:
    """Class-wise OT between a mixture of pilot sources and a validation set.

    Args:
        source_features (`Sequence[np.ndarray]`): one `(n_i, d)` array of pilot features per source.
        source_labels (`Sequence[np.ndarray]`): one `(n_i,)` integer label array per source.
        valid_features (`np.ndarray`): `(M, d)` validation features.
        valid_labels (`np.ndarray`): `(M,)` validation labels.
        config ([`ProjektorConfig`], *optional*): OT settings (eps 1e-2, λ, mode, reps, ...).
        names (`Sequence[str]`, *optional*): source names (default `source_0`, ...).

    Raises:
        [`EmptyDatasetError`] for an empty source or validation set, [`ShapeMismatchError`] for mismatched
        widths/lengths, [`NonFiniteError`] for NaN features, [`LabelError`] when no source label occurs in the
        validation set (or a label is negative).
    """

    def __init__(
        self,
        source_features: Sequence[np.ndarray],
        source_labels: Sequence[np.ndarray],
        valid_features: np.ndarray,
        valid_labels: np.ndarray,
        config: ProjektorConfig | None = None,
        names: Sequence[str] | None = None,
    ):
        self.config = config or ProjektorConfig()
        if len(source_features) != len(source_labels):
            raise ShapeMismatchError(
                f"{len(source_features)} source feature arrays but {len(source_labels)} label arrays"
            )
        if len(source_features) < 2:
            raise ConfigError(f"a mixture needs at least 2 sources, got {len(source_features)}")
        self.m = len(source_features)
        self.names = [str(n) for n in names] if names is not None else [f"source_{i}" for i in range(self.m)]
        if len(self.names) != self.m or len(set(self.names)) != self.m:
            raise ConfigError(f"names must be {self.m} distinct strings, got {self.names}")
        self._dtype = torch.float64 if self.config.dtype == "float64" else torch.float32
        self.valid_x = self._features(valid_features, "validation set")
        self.valid_y = self._labels(valid_labels, len(self.valid_x), "validation set")
        self.xs = [self._features(x, f"source {n!r}") for x, n in zip(source_features, self.names)]
        self.ys = [self._labels(y, len(x), f"source {n!r}") for x, y, n in zip(self.xs, source_labels, self.names)]
        width = self.valid_x.shape[1]
        for x, n in zip(self.xs, self.names):
            if x.shape[1] != width:
                raise ShapeMismatchError(
                    f"source {n!r} has feature width {x.shape[1]} but the validation set has {width}"
                )
        valid_classes = set(np.unique(self.valid_y).tolist())
        for y, n in zip(self.ys, self.names):
            if not set(np.unique(y).tolist()) & valid_classes:
                raise LabelError(
                    f"source {n!r} has labels {sorted(set(np.unique(y).tolist()))[:10]} disjoint from the validation "
                    f"labels {sorted(valid_classes)[:10]}: map both to the same class ids"
                )
        self.n_classes = int(max([int(self.valid_y.max())] + [int(y.max()) for y in self.ys])) + 1
        self.pool_x = np.concatenate(self.xs)
        self.pool_y = np.concatenate(self.ys)
        self.pool_groups = np.concatenate([np.full(len(x), i) for i, x in enumerate(self.xs)])
        self._tables: dict[str, torch.Tensor] = {}
        self.cost_scale = self._cost_scale()
        self._valid_self: float | None = None
        self.n_solves = 0

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _features(x: np.ndarray, what: str) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 2:
            raise ShapeMismatchError(f"{what} features must be 2-D (rows x features), got shape {arr.shape}")
        if len(arr) == 0:
            raise EmptyDatasetError(f"{what} is empty: every source and the validation set need rows")
        if not np.isfinite(arr).all():
            raise NonFiniteError(f"{what} features have NaN or infinite entries")
        return arr

    @staticmethod
    def _labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
        arr = np.asarray(y)
        if arr.shape != (n,):
            raise ShapeMismatchError(f"{what} has {n} feature rows but labels of shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and (arr == np.round(arr)).all():
                arr = arr.astype(np.int64)
            else:
                raise LabelError(f"{what} labels must be integer class ids, got dtype {arr.dtype}")
        if (arr < 0).any():
            raise LabelError(f"{what} labels must be >= 0 class ids, got {int(arr.min())}")
        return arr.astype(np.int64)

    # ------------------------------------------------------------------ building blocks
    def _cost_scale(self) -> float:
        """Median of `½‖u − v‖²` between (up to 500) pooled pilot and validation points: the unit of relative eps."""
        rng = np.random.default_rng(self.config.seed)
        xi = rng.choice(len(self.pool_x), size=min(500, len(self.pool_x)), replace=False)
        yi = rng.choice(len(self.valid_x), size=min(500, len(self.valid_x)), replace=False)
        x, y = self.pool_x[xi], self.valid_x[yi]
        sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
        scale = float(np.median(0.5 * np.clip(sq, 0, None)))
        return scale if scale > 0 else 1.0

    def _eps(self, eps: float) -> float:
        """Absolute epsilon: `eps` as is, or `eps · median(½‖u − v‖²)` in relative mode (inner and outer alike)."""
        return eps * self.cost_scale if self.config.eps_mode == "relative" else eps

    def _table(self, x: np.ndarray, xl: np.ndarray, y: np.ndarray, yl: np.ndarray) -> torch.Tensor:
        """W: the inner OT between class-conditional clouds (`½‖u − v‖²` cost); absent classes get 0 (never used)."""
        c = self.n_classes
        table, _ = class_distance_table(
            torch.as_tensor(x, dtype=self._dtype),
            torch.as_tensor(xl),
            torch.as_tensor(y, dtype=self._dtype),
            torch.as_tensor(yl),
            c,
            c,
            eps=self._eps(self.config.inner_eps),
            feature_weight=0.5,
            tol=max(self.config.tol, 1e-6) if self._dtype == torch.float64 else max(self.config.tol, 1e-4),
            max_iter=self.config.max_iter,
            momentum=self.config.momentum,
        )
        return torch.where(torch.isfinite(table), table, torch.zeros_like(table))

    def _pooled_table(self, kind: str) -> torch.Tensor:
        if kind not in self._tables:
            if kind == "xv":
                t = self._table(self.pool_x, self.pool_y, self.valid_x, self.valid_y)
            elif kind == "xx":
                t = self._table(self.pool_x, self.pool_y, self.pool_x, self.pool_y)
            else:
                t = self._table(self.valid_x, self.valid_y, self.valid_x, self.valid_y)
            self._tables[kind] = t
        return self._tables[kind]

    def _cost(
        self, x: np.ndarray, xl: np.ndarray, y: np.ndarray, yl: np.ndarray, table: torch.Tensor
    ) -> PointCloudCost:
        return PointCloudCost(
            x,
            y,
            feature_weight=0.5 * self.config.lambda_x,
            label_table=0.5 * self.config.lambda_y * table if self.config.lambda_y > 0 else None,
            x_labels=xl if self.config.lambda_y > 0 else None,
            y_labels=yl if self.config.lambda_y > 0 else None,
            dtype=self._dtype,
            device=self.config.device,
        )

    def _solve(
        self,
        x: np.ndarray,
        xl: np.ndarray,
        y: np.ndarray,
        yl: np.ndarray,
        table: torch.Tensor,
        a: np.ndarray | None = None,
        b: np.ndarray | None = None,
    ) -> OTResult:
        """The core's class-wise OT with a precomputed label table `W`."""
        cfg = self.config
        self.n_solves += 1
        res = classwise_ot(
            x, xl, y, yl, n_classes=self.n_classes, x_weights=a, y_weights=b, lambda_x=cfg.lambda_x,
            lambda_y=cfg.lambda_y, label_table=table, dtype=cfg.dtype, device=cfg.device,
            **{**cfg.ot_kwargs(), "eps": self._eps(cfg.eps), "eps_mode": "absolute"},
        ).result  # fmt: skip
        if not math.isfinite(res.value):
            raise NonFiniteError("the mixture OT is not finite: check the features for extreme values")
        return res

    def valid_self_ot(self) -> float:
        """`OT(β, β)` of the validation set with itself (constant over mixtures, cached)."""
        if self._valid_self is None:
            table = self._pooled_table("vv")
            self._valid_self = float(self._solve(self.valid_x, self.valid_y, self.valid_x, self.valid_y, table).value)
        return self._valid_self

    # ------------------------------------------------------------------ one draw
    def draw(self, p: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Indices into the pool and source ids of `D(N, p)`: `round(N·p_i)` draws with replacement per source."""
        counts = np.rint(size * p).astype(np.int64)
        if counts.sum() == 0:
            raise ConfigError(f"size {size} with mixture {p.tolist()} draws no point; use a larger size")
        offsets = np.concatenate([[0], np.cumsum([len(x) for x in self.xs])])
        idx = [offsets[i] + rng.integers(0, len(self.xs[i]), size=int(k)) for i, k in enumerate(counts) if k > 0]
        index = np.concatenate(idx)
        return index, self.pool_groups[index]

    def _one(
        self, p: np.ndarray, size: int, rng: np.random.Generator, with_gradient: bool
    ) -> tuple[float, float, np.ndarray]:
        debiased = self.config.distance == "debiased"
        if self.config.mixture_mode == "mass":
            keep = np.nonzero(p[self.pool_groups] > 0)[0]
            x, xl, groups = self.pool_x[keep], self.pool_y[keep], self.pool_groups[keep]
            sizes = np.asarray([len(xx) for xx in self.xs], dtype=np.float64)
            a = p[groups] / sizes[groups]
            a = a / a.sum()
            table_xv, table_xx = self._pooled_table("xv"), self._pooled_table("xx")
        else:
            index, groups = self.draw(p, size, rng)
            x, xl, a = self.pool_x[index], self.pool_y[index], None
            if self.config.label_table == "pooled":
                table_xv, table_xx = self._pooled_table("xv"), self._pooled_table("xx")
            else:
                table_xv = self._table(x, xl, self.valid_x, self.valid_y)
                table_xx = self._table(x, xl, x, xl) if debiased else table_xv
        if not set(np.unique(xl).tolist()) & set(np.unique(self.valid_y).tolist()):
            raise LabelError(f"the mixture {p.tolist()} draws no class present in the validation set")
        res = self._solve(x, xl, self.valid_x, self.valid_y, table_xv, a)
        plain = float(res.value)
        value = plain
        self_res: OTResult | None = None
        if debiased:
            self_res = self._solve(x, xl, x, xl, table_xx, a, a)
            value = plain - 0.5 * float(self_res.value) - 0.5 * self.valid_self_ot()
        grad = np.full(self.m, np.nan)
        if with_gradient:
            f = res.f.detach().cpu().double().numpy()
            grad = source_gradient(f, groups, self.m, a)
            # absent sources: their pilots' potentials by a c-transform of g (the validation side of the problem)
            m_valid = len(self.valid_x)
            table_vx = table_xv.T.contiguous() if self.config.lambda_y > 0 else table_xv
            grad = self._fill_absent(grad, f, a, res.g, float(res.eps), self.valid_x, self.valid_y,
                                     np.full(m_valid, 1.0 / m_valid), table_vx)  # fmt: skip
            if self.config.gradient == "debiased" and self_res is not None:
                grad = grad - self._self_gradient(self_res, x, xl, groups, a, table_xx)
        return value, plain, grad

    def _self_gradient(
        self,
        res: OTResult,
        x: np.ndarray,
        xl: np.ndarray,
        groups: np.ndarray,
        a: np.ndarray | None,
        table_xx: torch.Tensor,
    ) -> np.ndarray:
        """Source gradient of `½·OT(α, α)`: `∂/∂α ½OT(α, α) = f_αα` (the symmetric potential), so that
        `∂S/∂α = f_αβ − f_αα` (Feydy et al. 2019). Absent sources get `f_αα` by a c-transform on their pilots."""
        f_sym = 0.5 * (res.f + res.g).detach().cpu().double()
        grad = source_gradient(f_sym.numpy(), groups, self.m, a)
        w = a if a is not None else np.full(len(x), 1.0 / len(x))
        return self._fill_absent(grad, f_sym.numpy(), a, f_sym, float(res.eps), x, xl, w, table_xx)

    def _fill_absent(
        self,
        grad: np.ndarray,
        f: np.ndarray,
        a: np.ndarray | None,
        potential: torch.Tensor,
        eps: float,
        other_x: np.ndarray,
        other_y: np.ndarray,
        other_w: np.ndarray,
        table: torch.Tensor,
    ) -> np.ndarray:
        """Fill the NaN entries of `grad` (sources with no mass): the mean of the source's pilot potentials, got by
        a c-transform of `potential` (defined on the rows `other_x` with masses `other_w`), minus the mean of `f`
        (the mixture side's potential, masses `a`)."""
        missing = [i for i in range(self.m) if not np.isfinite(grad[i])]
        if not missing:
            return grad
        w = a if a is not None else np.full(len(f), 1.0 / len(f))
        mean_all = float(np.sum(w * f) / np.sum(w))
        for i in missing:
            cost = self._cost(other_x, other_y, self.xs[i], self.ys[i], table)
            f_i, _ = c_transform(cost, potential, eps, log_b=-math.log(len(self.xs[i])), a=other_w)
            grad[i] = float(f_i.double().mean()) - mean_all
        return grad

    # ------------------------------------------------------------------ public
    def evaluate(
        self,
        p: Sequence[float] | np.ndarray,
        size: int,
        *,
        seed: int | np.random.Generator | None = None,
        with_gradient: bool = True,
    ) -> MixtureEvaluation:
        """OT feature, plain OT and source gradient of mixture `p` at size `N` (median over `config.reps`).

        Args:
            p (`array`): a mixture on the simplex (checked).
            size (`int`): N, the total number of drawn points (resampled mode).
            seed (`int` or `np.random.Generator`, *optional*): randomness of the draws (default `config.seed`).
            with_gradient (`bool`, *optional*, defaults to `True`): also compute the source gradient.
        """
        mix = check_mixture(p, self.m)
        if int(size) <= 0:
            raise ConfigError(f"size must be a positive number of examples, got {size}")
        rng = (
            seed
            if isinstance(seed, np.random.Generator)
            else np.random.default_rng(self.config.seed if seed is None else seed)
        )
        reps = 1 if self.config.mixture_mode == "mass" else self.config.reps
        runs = [self._one(mix, int(size), rng, with_gradient) for _ in range(reps)]
        values = [r[0] for r in runs]
        return MixtureEvaluation(
            p=mix,
            size=int(size),
            value=float(np.median(values)),
            plain=float(np.median([r[1] for r in runs])),
            gradient=np.median(np.stack([r[2] for r in runs]), axis=0),
            values=values,
        )

    def values(
        self,
        mixtures: np.ndarray | Sequence[Sequence[float]],
        size: int,
        *,
        seed: int | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """The OT feature of every mixture (rows) at size N, each with its own seeded draws."""
        mixes = np.asarray(mixtures, dtype=np.float64)
        it = range(len(mixes))
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"OT at N={size}")
        base = self.config.seed if seed is None else seed
        return np.asarray(
            [self.evaluate(mixes[k], size, seed=base + k, with_gradient=False).value for k in it], dtype=np.float64
        )
