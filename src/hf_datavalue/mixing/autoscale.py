"""AutoScale: predict the optimal domain mixture at a larger budget from optimal mixtures at smaller ones.

Spec `specs/autoscale_ddo.md` §6. With a separable power law per domain, every domain's optimal log-amount is
affine in one latent variable, so with two anchors `N^(1)*`, `N^(2)*` (absolute per-domain amounts) the optimal
allocation moves along `N_i(t) = N_i^(1)* · r_i^t` with `r_i = N_i^(2)* / N_i^(1)*`. [`AutoScale.predict`]
solves `Σ_i N_i(t) = N_T` for t (continuous form; `t = 1` is anchor 2, `t = 2` one step of the reference's
discrete rule, `t = 0.5` the geometric mean). With more than two anchors, `log N_i` is regressed on the shared
latent (the normalised log budget) by least squares.

Usage:

```python
from hf_datavalue.mixing import AutoScale, MixtureWeights

small = MixtureWeights({...}, budget=0.3e9)   # DDO at 0.3B tokens
large = MixtureWeights({...}, budget=1.2e9)   # DDO at 1.2B tokens
w10b = AutoScale([small, large]).predict(10e9)
```
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.config import JsonConfig
from ..core.errors import ConfigError, SolverError
from ..core.mixture import MixtureWeights, check_same_domains

__all__ = ["AutoScale", "AutoScaleConfig"]

logger = logging.getLogger(__name__)


@dataclass
class AutoScaleConfig(JsonConfig):
    """Configuration of [`AutoScale`].

    Args:
        available (`dict[str, float]`, *optional*): data available per domain, in the budget's unit; a prediction
            that needs more raises a warning (the theory assumes sampling without replacement).
        allow_repetition (`bool`, *optional*, defaults to `False`): silence that warning (explicit opt-in to
            repeating data).
    """

    method = "autoscale"

    available: dict[str, float] = field(default_factory=dict, metadata={"help": "Available amount per domain."})
    allow_repetition: bool = field(default=False, metadata={"help": "Accept predictions beyond the available data."})


class AutoScale:
    """The AutoScale predictor from optimal mixtures at two or more budgets.

    Args:
        anchors (`list[MixtureWeights]`): optimal weights at distinct budgets (each with `budget` set, all in the
            same unit and over the same domains, every weight positive).
        config ([`AutoScaleConfig`], *optional*): availability checks.

    Usage:

    ```python
    scaler = AutoScale([w_small, w_large])
    scaler.predict(1.6e6)          # MixtureWeights at 1.6M tokens
    scaler.predict_latent(2.0)     # one step of the reference's discrete rule
    ```
    """

    def __init__(self, anchors: Sequence[MixtureWeights], config: AutoScaleConfig | None = None):
        self.config = config or AutoScaleConfig()
        anchors = list(anchors)
        if len(anchors) < 2:
            raise ConfigError(f"AutoScale needs optimal weights at >= 2 budgets, got {len(anchors)}")
        for w in anchors:
            if not isinstance(w, MixtureWeights):
                raise ConfigError("anchors must be MixtureWeights")
            if w.budget is None:
                raise ConfigError("every anchor needs its budget (MixtureWeights(..., budget=N))")
        units = {w.unit for w in anchors}
        if len(units) > 1:
            raise ConfigError(f"inconsistent units across anchors: {sorted(units)}")
        self.unit = anchors[0].unit
        self.domains = anchors[0].domains
        for w in anchors[1:]:
            check_same_domains(w.domains, self.domains, "an anchor", "the first anchor")
        anchors = sorted(anchors, key=lambda w: float(w.budget or 0.0))
        budgets = np.asarray([float(w.budget or 0.0) for w in anchors])
        if len(np.unique(budgets)) != len(budgets):
            raise ConfigError(f"anchor budgets must be distinct, got {budgets.tolist()}")
        alloc = np.asarray([[w.budget * w[d] for d in self.domains] for w in anchors if w.budget is not None])
        zero = [d for j, d in enumerate(self.domains) if np.any(alloc[:, j] <= 0)]
        if zero:
            raise ConfigError(f"AutoScale needs positive weights at every anchor; domain(s) {zero} have zero weight")
        self.anchors = anchors
        self.budgets = budgets
        # latent t: 0 at the smallest anchor, 1 at the largest; log N_i = alpha_i + beta_i t (exact for 2 anchors)
        self._t_anchor = (np.log(budgets) - math.log(budgets[0])) / (math.log(budgets[-1]) - math.log(budgets[0]))
        design = np.stack([np.ones_like(self._t_anchor), self._t_anchor], axis=1)
        coef, *_ = np.linalg.lstsq(design, np.log(alloc), rcond=None)
        self.alpha, self.beta = coef[0], coef[1]
        if len(anchors) == 2:  # exact: alpha = log N^(1), beta = log r
            self.alpha = np.log(alloc[0])
            self.beta = np.log(alloc[1]) - np.log(alloc[0])

    @property
    def growth_ratios(self) -> dict[str, float]:
        """`r_i`: per-domain growth factor from the smallest to the largest anchor (per unit of latent t)."""
        return dict(zip(self.domains, np.exp(self.beta).tolist()))

    def allocations_at(self, t: float) -> np.ndarray:
        """Absolute per-domain amounts `N_i(t)`."""
        return np.exp(self.alpha + self.beta * float(t))

    def predict_latent(self, t: float) -> MixtureWeights:
        """The predicted optimal mixture at latent `t` (t = 1: largest anchor, t = 2: one discrete step)."""
        alloc = self.allocations_at(t)
        budget = float(alloc.sum())
        self._check_available(alloc)
        prov = {
            "method": "autoscale",
            "latent_t": float(t),
            "anchor_budgets": self.budgets.tolist(),
            "growth_ratios": self.growth_ratios,
            "config": self.config.to_dict(),
        }
        return MixtureWeights(
            dict(zip(self.domains, (alloc / budget).tolist())), unit=self.unit, budget=budget, provenance=prov
        )

    def solve_latent(self, target_budget: float) -> float:
        """The latent t with `Σ_i N_i(t) = target_budget` (on the increasing branch of the convex sum)."""
        target = float(target_budget)
        if not math.isfinite(target) or target <= 0:
            raise ConfigError(f"target budget must be positive and finite, got {target_budget}")
        if target < self.budgets[0] * (1 - 1e-12):
            raise ConfigError(
                f"target budget {target:g} is below the smallest anchor {self.budgets[0]:g}; AutoScale extrapolates "
                "upwards (run DDO at that budget instead)"
            )

        def total(t: float) -> float:
            return float(self.allocations_at(t).sum())

        def slope(t: float) -> float:
            return float((self.beta * self.allocations_at(t)).sum())

        lo = 0.0
        if slope(lo) < 0:  # move onto the increasing branch: t >= argmin of the convex sum
            hi_s = 1.0
            while slope(hi_s) < 0:
                hi_s *= 2
                if hi_s > 1e6:
                    raise SolverError("the predicted total never grows: every domain shrinks between anchors")
            a_s = 0.0
            for _ in range(200):
                mid = 0.5 * (a_s + hi_s)
                a_s, hi_s = (mid, hi_s) if slope(mid) < 0 else (a_s, mid)
            lo = hi_s
        if total(lo) > target:  # target between the smallest anchor and the sum's minimum
            raise ConfigError(f"target budget {target:g} is below the smallest reachable budget {total(lo):g}")
        hi = max(lo + 1.0, 1.0)
        while total(hi) < target:
            hi = lo + 2 * (hi - lo)
            if hi > 1e6:
                raise SolverError(f"cannot reach the target budget {target:g}")
        for _ in range(300):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if total(mid) < target else (lo, mid)
            if hi - lo < 1e-15 * max(1.0, abs(hi)):
                break
        return 0.5 * (lo + hi)

    def predict(self, target_budget: float) -> MixtureWeights:
        """The predicted optimal mixture at `target_budget` (same unit as the anchors)."""
        t = self.solve_latent(target_budget)
        out = self.predict_latent(t)
        logger.info("AutoScale: budget %g -> latent t = %.6f, weights %s", target_budget, t, out.weights)
        return out

    def predict_discrete(self, steps: int = 1) -> list[MixtureWeights]:
        """The reference's discrete rule `N^(k+1) = N^(k) ⊙ (N^(k) ⊘ N^(k-1))`, iterated `steps` times
        (t = 2, 3, ... for two anchors)."""
        return [self.predict_latent(1.0 + k) for k in range(1, int(steps) + 1)]

    def _check_available(self, alloc: np.ndarray) -> None:
        if not self.config.available or self.config.allow_repetition:
            return
        over = {
            d: (float(x), float(self.config.available[d]))
            for d, x in zip(self.domains, alloc)
            if d in self.config.available and x > self.config.available[d]
        }
        if over:
            warnings.warn(
                f"AutoScale: the prediction needs more data than available for {over} (needed, available); the "
                "derivation assumes no repetition (set allow_repetition=True to accept repeating data)",
                stacklevel=3,
            )
