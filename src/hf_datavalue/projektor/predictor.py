"""Stage 1 (PQ-OT performance model, spec §3) and stage 2 (extrapolation linear in ln N, spec §4).

`L̂(p) = A(p)·OT(p) + B(p)` with `A(p) = β_0 + Σ_{i<m} (β1_i·p_i + β2_i·p_i²)` and
`B(p) = γ_0 + Σ_{i<m} (γ1_i·p_i + γ2_i·p_i²)`; source m is implied by `p_m = 1 − Σ_{i<m} p_i`, so the library
design has `2 + 4(m − 1)` columns and full rank. The notebook design (m = 3) is the reference's
`[OT, p1, p2, p1·OT, p2·OT, p2²·OT, p1²·OT, 0]` plus an intercept (no standalone `p_i²`, a zero column).

Usage:

```python
from hf_datavalue.projektor import ProjektorPredictor

pred = ProjektorPredictor(target="accuracy").fit({1000: ot0, 1500: ot1}, mixtures, {1000: acc0, 1500: acc1})
pred.predict(p, 1000, ot=0.42)                  # stage 1 at a disclosed size
pred.project(p, 10_000, ot=(0.42, 0.40))        # stage 2: linear in ln N through the two anchors
```

`ridge > 0` replaces OLS by ridge on standardised columns (the intercept is not penalised), the spec's other cure
for collinearity (§3). It tames the `OT × p²` terms when the predictor is asked about mixtures outside the fitted
ones (the reference's held-out protocol); `ridge = 0` is the reference's OLS.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import ConfigError, NonFiniteError, ShapeMismatchError
from .config import TARGETS
from .simplex import check_mixture

__all__ = ["ProjektorPredictor", "Stage1Fit", "design_matrix", "fit_stage1", "log_interpolation_weight"]

logger = logging.getLogger(__name__)


def _as_mixtures(mixtures: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    arr = np.asarray(mixtures, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ShapeMismatchError(f"mixtures must be a (K, m) array with m >= 2 sources, got shape {arr.shape}")
    return np.stack([check_mixture(row, arr.shape[1], what=f"mixture {k}") for k, row in enumerate(arr)])


def design_matrix(ot: np.ndarray, mixtures: np.ndarray, design: str = "library") -> np.ndarray:
    """The stage-1 design matrix.

    `"library"`: `[1, OT, (p_i·OT, p_i²·OT, p_i, p_i²) for i < m]` (`2 + 4(m − 1)` columns).
    `"notebook"` (m = 3): `[1, OT, p1, p2, p1·OT, p2·OT, p2²·OT, p1²·OT, 0]` (the reference's columns plus the
    intercept `LinearRegression` adds).
    """
    ot = np.asarray(ot, dtype=np.float64).reshape(-1)
    p = np.asarray(mixtures, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(ot):
        raise ShapeMismatchError(f"{len(ot)} OT values but mixtures of shape {p.shape}")
    one = np.ones_like(ot)
    if design == "library":
        cols = [one, ot]
        for i in range(p.shape[1] - 1):
            cols += [p[:, i] * ot, p[:, i] ** 2 * ot, p[:, i], p[:, i] ** 2]
        return np.stack(cols, axis=1)
    if design == "notebook":
        if p.shape[1] != 3:
            raise ConfigError(f"the notebook design is defined for 3 sources, got {p.shape[1]}")
        p1, p2 = p[:, 0], p[:, 1]
        return np.stack([one, ot, p1, p2, p1 * ot, p2 * ot, p2**2 * ot, p1**2 * ot, np.zeros_like(ot)], axis=1)
    raise ConfigError(f"design must be 'library' or 'notebook', got {design!r}")


def n_parameters(m: int, design: str = "library") -> int:
    """Free parameters of a design (10 for the library design with m = 3, 8 for the notebook one)."""
    return 2 + 4 * (m - 1) if design == "library" else 8


@dataclass
class Stage1Fit:
    """OLS fit of the PQ-OT model at one size.

    Attributes:
        coef (`np.ndarray`): the raw coefficients in design-column order.
        beta0, gamma0 (`float`): OT coefficient and intercept.
        beta1, beta2, gamma1, gamma2 (`np.ndarray`): length-m per-source terms of `A` and `B` (entry m is 0).
        design (`str`): `"library"` or `"notebook"`.
        train_mse (`float`): mean squared error on the fitted points.
        n_points (`int`): fitted mixtures.
        ridge (`float`): the L2 penalty on standardised columns (0: OLS).
    """

    coef: np.ndarray
    beta0: float
    beta1: np.ndarray
    beta2: np.ndarray
    gamma0: float
    gamma1: np.ndarray
    gamma2: np.ndarray
    design: str
    train_mse: float
    n_points: int
    ridge: float = 0.0

    @classmethod
    def from_coef(
        cls,
        coef: np.ndarray,
        m: int,
        design: str,
        train_mse: float = math.nan,
        n_points: int = 0,
        ridge: float = 0.0,
    ) -> Stage1Fit:
        c = np.asarray(coef, dtype=np.float64)
        b1, b2, g1, g2 = (np.zeros(m) for _ in range(4))
        if design == "library":
            for i in range(m - 1):
                b1[i], b2[i], g1[i], g2[i] = c[2 + 4 * i : 6 + 4 * i]
        else:  # [1, OT, p1, p2, p1·OT, p2·OT, p2²·OT, p1²·OT, 0]
            g1[0], g1[1], b1[0], b1[1], b2[1], b2[0] = c[2], c[3], c[4], c[5], c[6], c[7]
        return cls(c, float(c[1]), b1, b2, float(c[0]), g1, g2, design, float(train_mse), int(n_points), float(ridge))

    def a(self, p: np.ndarray) -> float:
        """The OT coefficient `A(p)`."""
        return float(self.beta0 + self.beta1 @ p + self.beta2 @ (p**2))

    def b(self, p: np.ndarray) -> float:
        """The offset `B(p)`."""
        return float(self.gamma0 + self.gamma1 @ p + self.gamma2 @ (p**2))

    def predict(self, p: np.ndarray, ot: float) -> float:
        """`L̂(p) = A(p)·OT + B(p)`."""
        return self.a(p) * float(ot) + self.b(p)

    def gradient(self, p: np.ndarray, ot: float, ot_gradient: np.ndarray) -> np.ndarray:
        """Full chain rule `∂L̂/∂p_i = A(p)·∂OT/∂p_i + (β1_i + 2β2_i p_i)·OT + (γ1_i + 2γ2_i p_i)` (spec §5)."""
        return (
            self.a(p) * np.asarray(ot_gradient, dtype=np.float64)
            + (self.beta1 + 2 * self.beta2 * p) * float(ot)
            + (self.gamma1 + 2 * self.gamma2 * p)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "coef": self.coef.tolist(),
            "design": self.design,
            "train_mse": self.train_mse,
            "n_points": self.n_points,
            "ridge": self.ridge,
        }


def fit_stage1(
    ot: np.ndarray, mixtures: np.ndarray, perf: np.ndarray, design: str = "library", ridge: float = 0.0
) -> Stage1Fit:
    """Least squares of the PQ-OT model on K pilot mixtures: OLS (`ridge=0`, the reference) or ridge.

    Ridge minimises `‖y − Xc‖² + ridge·Σ_j (s_j·c_j)²` over the non-intercept columns, `s_j` their standard deviation
    on the fitted mixtures: a penalty on standardised coefficients, so it does not depend on the units of OT or of
    the labels' offset. The fitted model keeps the PQ-OT form, so `predict` and `gradient` are unchanged.

    Raises:
        [`ConfigError`]: fewer mixtures than coefficients, a rank-deficient design or a negative `ridge`.
        [`NonFiniteError`]: a NaN/inf performance label or OT value.
    """
    p = _as_mixtures(mixtures)
    y = np.asarray(perf, dtype=np.float64).reshape(-1)
    o = np.asarray(ot, dtype=np.float64).reshape(-1)
    if len(y) != len(p) or len(o) != len(p):
        raise ShapeMismatchError(f"{len(p)} mixtures, {len(o)} OT values and {len(y)} performance labels")
    if not np.isfinite(y).all():
        bad = np.nonzero(~np.isfinite(y))[0].tolist()
        raise NonFiniteError(f"performance labels at mixtures {bad[:10]} are NaN or infinite: re-measure or drop them")
    if not np.isfinite(o).all():
        raise NonFiniteError("OT values have NaN or infinite entries")
    if not (math.isfinite(ridge) and ridge >= 0):
        raise ConfigError(f"ridge must be a finite number >= 0 (0 = OLS), got {ridge}")
    m = p.shape[1]
    k = n_parameters(m, design)
    if len(p) < k:
        raise ConfigError(
            f"the {design} design has {k} coefficients but only {len(p)} pilot mixtures were given: "
            f"measure at least {k} distinct mixtures"
        )
    x = design_matrix(o, p, design)
    used = x if design == "library" else x[:, :-1]  # the notebook's zero column takes no part
    rank = np.linalg.matrix_rank(used)
    if rank < used.shape[1]:
        raise ConfigError(
            f"the stage-1 design has rank {rank} < {used.shape[1]} columns: use more varied pilot mixtures"
        )
    if ridge > 0:
        # augmented least squares: sqrt(ridge)·s_j rows penalise column j; column 0 (intercept) is free
        penalty = np.sqrt(ridge) * np.diag(used.std(axis=0))
        penalty[0, 0] = 0.0
        sol, *_ = np.linalg.lstsq(np.vstack([used, penalty]), np.r_[y, np.zeros(len(penalty))], rcond=None)
    else:
        sol, *_ = np.linalg.lstsq(used, y, rcond=None)
    coef = sol if design == "library" else np.concatenate([sol, [0.0]])
    mse = float(np.mean((x @ coef - y) ** 2))
    return Stage1Fit.from_coef(coef, m, design, mse, len(p), ridge)


def log_interpolation_weight(size: float, n0: float, n1: float) -> float:
    """`t = ln(N/N0)/ln(N1/N0)`, exactly 0 at N0 and 1 at N1."""
    if size == n0:
        return 0.0
    if size == n1:
        return 1.0
    return math.log(size / n0) / math.log(n1 / n0)


class ProjektorPredictor:
    """Stage 1 at two disclosed sizes plus the stage-2 projection to larger N.

    Args:
        design (`str`, *optional*, defaults to `"library"`): stage-1 design.
        target (`str`, *optional*, defaults to `"accuracy"`): the modelled quantity, recorded.
        ridge (`float`, *optional*, defaults to 0.0): L2 penalty of the stage-1 fits on standardised columns
            (0: the reference's OLS). See [`fit_stage1`].

    Usage:

    ```python
    pred = ProjektorPredictor().fit({1000: ot0, 1500: ot1}, mixtures, {1000: acc0, 1500: acc1})
    pred.project(p, 10_000, ot=(ot_at_1000, ot_at_1500))
    ```
    """

    def __init__(self, design: str = "library", target: str = "accuracy", ridge: float = 0.0):
        if design not in ("library", "notebook"):
            raise ConfigError(f"design must be 'library' or 'notebook', got {design!r}")
        if target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {target!r}")
        if not (math.isfinite(ridge) and ridge >= 0):
            raise ConfigError(f"ridge must be a finite number >= 0 (0 = OLS), got {ridge}")
        self.design = design
        self.target = target
        self.ridge = float(ridge)
        self.fits: dict[int, Stage1Fit] = {}
        self.m: int | None = None

    @property
    def sizes(self) -> tuple[int, int]:
        if len(self.fits) != 2:
            raise ConfigError("the predictor is not fitted at two sizes yet: call fit() first")
        n0, n1 = sorted(self.fits)
        return n0, n1

    def fit(
        self,
        ot_values: Mapping[int, np.ndarray],
        mixtures: np.ndarray | Sequence[Sequence[float]],
        perf: Mapping[int, np.ndarray],
    ) -> ProjektorPredictor:
        """Fit stage 1 at each of the two pilot sizes (keys of `ot_values` and `perf`), on the same mixtures."""
        sizes = sorted(int(n) for n in ot_values)
        if sorted(int(n) for n in perf) != sizes:
            raise ConfigError(f"OT values are given at sizes {sizes} but labels at {sorted(perf)}")
        if len(sizes) != 2 or sizes[0] <= 0 or sizes[0] == sizes[1]:
            raise ConfigError(f"stage 2 needs two distinct positive pilot sizes N0 < N1, got {sizes}")
        p = _as_mixtures(mixtures)
        self.m = p.shape[1]
        self.fits = {n: fit_stage1(ot_values[n], p, perf[n], self.design, self.ridge) for n in sizes}
        for n, fit in self.fits.items():
            logger.info("stage 1 at N=%d: train MSE %.4g over %d mixtures", n, fit.train_mse, fit.n_points)
        return self

    def _check(self, p: Sequence[float] | np.ndarray) -> np.ndarray:
        if self.m is None:
            raise ConfigError("the predictor is not fitted: call fit() first")
        return check_mixture(p, self.m)

    def predict(self, p: Sequence[float] | np.ndarray, size: int, ot: float) -> float:
        """Stage-1 prediction at a disclosed size (N0 or N1) from the OT of `p` at that size."""
        mix = self._check(p)
        if int(size) not in self.fits:
            raise ConfigError(f"stage 1 is fitted at sizes {sorted(self.fits)}, not {size}: use project()")
        return self.fits[int(size)].predict(mix, ot)

    def _weight(self, size: float) -> float:
        n0, n1 = self.sizes
        if not math.isfinite(size) or size < n0:
            raise ConfigError(
                f"N={size} is below the smallest pilot size {n0}: the projection only extrapolates upwards"
            )
        return log_interpolation_weight(float(size), n0, n1)

    def project(self, p: Sequence[float] | np.ndarray, size: float, ot: tuple[float, float]) -> float:
        """Stage 2: `L̂(N, p) = (1 − t)·L̂(N0, p) + t·L̂(N1, p)`, `t = ln(N/N0)/ln(N1/N0)`.

        Args:
            p (`array`): the mixture.
            size (`float`): the target N (>= N0).
            ot (`tuple[float, float]`): OT of `p` at N0 and at N1.
        """
        mix = self._check(p)
        t = self._weight(size)
        n0, n1 = self.sizes
        l0, l1 = self.fits[n0].predict(mix, ot[0]), self.fits[n1].predict(mix, ot[1])
        if t == 0.0:
            return l0
        if t == 1.0:
            return l1
        return (1.0 - t) * l0 + t * l1

    def project_gradient(
        self,
        p: Sequence[float] | np.ndarray,
        size: float,
        ot: tuple[float, float],
        ot_gradient: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        """`∇_N = ∇_{N0} + (∇_{N1} − ∇_{N0})·ln(N/N0)/ln(N1/N0)` of the full chain-rule gradients (spec §5)."""
        mix = self._check(p)
        t = self._weight(size)
        n0, n1 = self.sizes
        g0 = self.fits[n0].gradient(mix, ot[0], ot_gradient[0])
        g1 = self.fits[n1].gradient(mix, ot[1], ot_gradient[1])
        return g0 + (g1 - g0) * t

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (sizes, design, target and the coefficients of both fits)."""
        return {
            "design": self.design,
            "target": self.target,
            "ridge": self.ridge,
            "m": self.m,
            "fits": {str(n): f.to_dict() for n, f in self.fits.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjektorPredictor:
        """Inverse of [`to_dict`]."""
        try:
            # predictors saved before the ridge option have no "ridge" key: they were OLS fits
            pred = cls(design=data["design"], target=data["target"], ridge=float(data.get("ridge", 0.0)))
            pred.m = int(data["m"])
            pred.fits = {
                int(n): Stage1Fit.from_coef(
                    np.asarray(f["coef"]), pred.m, f["design"], f["train_mse"], f["n_points"], f.get("ridge", 0.0)
                )
                for n, f in data["fits"].items()
            }
        except (KeyError, TypeError) as err:
            raise ConfigError(f"not a saved ProjektorPredictor: missing or bad field {err}") from None
        return pred
