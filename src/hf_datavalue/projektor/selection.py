"""Source selection by projected gradient on the simplex (spec §5) and the OT-only selector (spec §7).

Usage:

```python
from hf_datavalue.projektor import MixtureOT, ProjektorSelector, ot_only_selection

sel = ProjektorSelector(predictor, MixtureOT(xs, ys, x_val, y_val, config), config).select(size=10_000)
sel.weights            # MixtureWeights(unit="examples") for interleave_datasets / the quota sampler
sel.predicted          # projected performance at N = 10,000

sel = ot_only_selection(xs, ys, x_val, y_val, size=1000, names=["s1", "s2", "s3"])  # minimise OT(p) alone
```
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import ConfigError, NonFiniteError
from ..core.mixture import MixtureWeights
from .config import ProjektorConfig
from .ot_mixture import MixtureEvaluation, MixtureOT
from .predictor import ProjektorPredictor
from .simplex import check_mixture, project_simplex

__all__ = ["ProjektorSelection", "ProjektorSelector", "ot_only_selection", "projected_step"]

logger = logging.getLogger(__name__)


def projected_step(
    p: np.ndarray,
    gradient: np.ndarray,
    step: float,
    sign: float,
    *,
    normalized: bool = False,
    prices: np.ndarray | None = None,
    max_price: float | None = None,
) -> np.ndarray:
    """`Π_Δ(p + sign·step·∇)`; with `normalized`, the centred gradient is divided by its max-abs entry first."""
    g = np.asarray(gradient, dtype=np.float64)
    if not np.isfinite(g).all():
        raise NonFiniteError(f"the selection gradient {g.tolist()} is not finite")
    g = g - g.mean()  # projection ignores constant shifts; centring keeps the normalisation meaningful
    if normalized:
        peak = float(np.abs(g).max())
        g = g / peak if peak > 0 else g
    return project_simplex(p + sign * step * g, prices=prices, max_price=max_price)


@dataclass
class ProjektorSelection:
    """A selected mixture.

    Attributes:
        weights ([`~hf_datavalue.core.mixture.MixtureWeights`]): per-source shares (`unit="examples"`),
            `predicted_loss` set to the predicted objective.
        predicted (`float`): predicted performance at the target size (the OT value for the OT-only selector).
        path (`list[np.ndarray]`): every iterate, from the start point to the result.
        predicted_path (`list[float]`): the objective along the path.
        size (`int`): the target N.
    """

    weights: MixtureWeights
    predicted: float
    path: list[np.ndarray] = field(default_factory=list)
    predicted_path: list[float] = field(default_factory=list)
    size: int = 0

    @property
    def p(self) -> np.ndarray:
        """The mixture as a float64 vector in source order."""
        return np.asarray(self.weights.as_list(), dtype=np.float64)


def _price_bound(
    prices: Sequence[float] | None, budget: float | None, size: int, m: int
) -> tuple[np.ndarray | None, float | None]:
    if prices is None and budget is None:
        return None, None
    if prices is None or budget is None:
        raise ConfigError("a budget constraint needs both prices (per example, per source) and a budget")
    c = np.asarray(prices, dtype=np.float64)
    if c.shape != (m,) or not np.isfinite(c).all() or (c < 0).any():
        raise ConfigError(f"prices must be {m} finite non-negative numbers, got {list(prices)}")
    if not np.isfinite(budget) or budget < 0:
        raise ConfigError(f"budget must be a finite non-negative number, got {budget}")
    return c, float(budget) / float(size)


def _start(init: Sequence[float] | None, m: int, prices: np.ndarray | None, bound: float | None) -> np.ndarray:
    p = np.full(m, 1.0 / m) if init is None else check_mixture(init, m, what="init")
    if prices is not None:
        p = project_simplex(p, prices=prices, max_price=bound)
    return p


def _run(
    objective: Callable[[np.ndarray, int], tuple[float, np.ndarray]],
    m: int,
    config: ProjektorConfig,
    sign: float,
    steps: int,
    init: Sequence[float] | None,
    prices: np.ndarray | None,
    bound: float | None,
) -> tuple[np.ndarray, list[np.ndarray], list[float]]:
    p = _start(init, m, prices, bound)
    path, values = [p.copy()], []
    for t in range(steps):
        value, grad = objective(p, t)
        values.append(value)
        lr = config.lr * config.decay**t
        new = projected_step(p, grad, lr, sign, normalized=config.normalized_steps, prices=prices, max_price=bound)
        if t == 0:
            move = float(np.abs(new - p).max())
            if move > 0.1 or move < 1e-4:
                logger.warning(
                    "the first selection step moves p by %.3g (L-inf): the step size lr=%g is %s for these units",
                    move,
                    config.lr,
                    "large" if move > 0.1 else "small",
                )
        p = new
        path.append(p.copy())
    return p, path, values


class ProjektorSelector:
    """Projected-gradient source selection at a target size N (spec §5).

    Each step re-samples `D(N0, p)` and `D(N1, p)`, computes OT and the source-level gradient at both pilot sizes,
    forms the full chain-rule gradients of the fitted stage-1 models, projects them to N with the stage-2 rule
    (`∇_N`, not `∇_{N0}`), and steps on the simplex (Duchi projection; optional price/budget constraint).

    Args:
        predictor ([`ProjektorPredictor`]): fitted at two pilot sizes.
        ot ([`MixtureOT`]): the pilot sources and validation set.
        config ([`ProjektorConfig`], *optional*): step size, decay, steps, target, reps.
    """

    def __init__(self, predictor: ProjektorPredictor, ot: MixtureOT, config: ProjektorConfig | None = None):
        self.predictor = predictor
        self.ot = ot
        self.config = config or ot.config
        if predictor.m != ot.m:
            raise ConfigError(f"the predictor is fitted for {predictor.m} sources but the OT has {ot.m}")

    def evaluate(self, p: np.ndarray, size: int, seed: int) -> tuple[float, np.ndarray]:
        """Projected prediction and projected gradient `∇_N` at `p`."""
        n0, n1 = self.predictor.sizes
        e0: MixtureEvaluation = self.ot.evaluate(p, n0, seed=seed)
        e1: MixtureEvaluation = self.ot.evaluate(p, n1, seed=seed + 1)
        # the predictor's feature is the configured distance; the gradient is the plain OT's (spec pitfall 6)
        pred = self.predictor.project(p, size, (e0.value, e1.value))
        grad = self.predictor.project_gradient(p, size, (e0.value, e1.value), (e0.gradient, e1.gradient))
        return pred, grad

    def select(
        self,
        size: int,
        init: Sequence[float] | None = None,
        steps: int | None = None,
        prices: Sequence[float] | None = None,
        budget: float | None = None,
    ) -> ProjektorSelection:
        """Run the projected gradient for `steps` iterations (default `config.steps`) and return the mixture."""
        n0, _ = self.predictor.sizes
        if size < n0:
            raise ConfigError(f"N={size} is below the smallest pilot size {n0}")
        c, bound = _price_bound(prices, budget, size, self.ot.m)
        base = self.config.seed
        p, path, values = _run(
            lambda q, t: self.evaluate(q, size, base + 2 * t),
            self.ot.m,
            self.config,
            self.config.sign,
            self.config.steps if steps is None else steps,
            init,
            c,
            bound,
        )
        final, _ = self.evaluate(p, size, base + 2 * len(path))
        values.append(final)
        weights = MixtureWeights(
            dict(zip(self.ot.names, p.tolist())),
            unit="examples",
            budget=float(size),
            predicted_loss=float(final),
            provenance={
                "method": "projektor",
                "target": self.predictor.target,
                "size": int(size),
                "config": self.config.to_dict(),
            },
        )
        return ProjektorSelection(weights, float(final), path, values, int(size))


def ot_only_selection(
    source_features: Sequence[np.ndarray],
    source_labels: Sequence[np.ndarray],
    valid_features: np.ndarray,
    valid_labels: np.ndarray,
    size: int,
    *,
    names: Sequence[str] | None = None,
    prices: Sequence[float] | None = None,
    budget: float | None = None,
    config: ProjektorConfig | None = None,
    init: Sequence[float] | None = None,
    steps: int = 100,
) -> ProjektorSelection:
    """Minimise `OT(p)` over the simplex (A ≡ −1, B ≡ 0 as in spec §7): no performance labels needed.

    Each step re-samples `D(N, p)` (resampled mode) and moves along the source-level gradient of the plain OT.
    With `prices` and `budget`, every iterate also satisfies `size · Σ p_i·price_i <= budget`.

    Args:
        source_features, source_labels: the pilot samples of each source (features `(n_i, d)`, int labels).
        valid_features, valid_labels: the validation set.
        size (`int`): the purchase size N.
        names (`Sequence[str]`, *optional*): source names (keys of the returned weights).
        prices (`Sequence[float]`, *optional*): price per example of each source.
        budget (`float`, *optional*): total budget of the purchase.
        config ([`ProjektorConfig`], *optional*): OT and step settings (`lr`, `decay`, `normalized_steps`).
            Defaults to the spec §7 schedule: normalised steps `0.05·0.95^t`.
        init (`Sequence[float]`, *optional*): start mixture (uniform by default).
        steps (`int`, *optional*, defaults to 100): iterations.

    Returns:
        [`ProjektorSelection`]: `.weights` (MixtureWeights, `predicted_loss` = OT at the result), `.predicted`
        (the OT value at the result), `.path` (every iterate).
    """
    cfg = config or ProjektorConfig(lr=0.05, decay=0.95, normalized_steps=True)
    ot = MixtureOT(source_features, source_labels, valid_features, valid_labels, config=cfg, names=names)
    if int(size) <= 0:
        raise ConfigError(f"size must be a positive number of examples, got {size}")
    c, bound = _price_bound(prices, budget, int(size), ot.m)

    def objective(q: np.ndarray, t: int) -> tuple[float, np.ndarray]:
        ev = ot.evaluate(q, int(size), seed=cfg.seed + t)
        # L̂ = −OT: maximising it is minimising OT (the divergence itself when its gradient is the debiased one)
        return (ev.value if cfg.gradient == "debiased" else ev.plain), ev.gradient

    p, path, values = _run(objective, ot.m, cfg, -1.0, steps, init, c, bound)
    last = ot.evaluate(p, int(size), seed=cfg.seed + steps, with_gradient=False)
    final = last.value if cfg.gradient == "debiased" else last.plain
    values.append(final)
    weights = MixtureWeights(
        dict(zip(ot.names, p.tolist())),
        unit="examples",
        budget=float(size),
        predicted_loss=float(final),
        provenance={
            "method": "projektor",
            "selector": "ot_only",
            "size": int(size),
            "config": cfg.to_dict(),
            **(
                {"prices": c.tolist(), "budget": float(bound) * int(size)}
                if c is not None and bound is not None
                else {}
            ),
        },
    )
    return ProjektorSelection(weights, float(final), path, values, int(size))
