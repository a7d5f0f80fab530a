"""DDO (Direct Data Optimization): optimal domain weights at one budget from 2m+1 training runs.

Kang et al., "AutoScale: Scale-Aware Data Mixing for Pre-Training LLMs" (COLM 2025, arXiv:2407.20177); spec
`specs/autoscale_ddo.md` §3-5. The pieces, each usable alone:

* [`perturbation_plan`]: the 2m+1 run configurations (uniform base, each domain down and up);
* [`LossTable`]: what the runs measured (per-domain validation loss or perplexity and the *realised*
  multipliers), JSON round-trip; build it by hand from published numbers or with [`DDORunner`];
* [`fit_domain_law`]: `y_i(x) = (x + a_i)^(-b_i) + c_i` per domain, with `a, b > 0` by log-parametrisation,
  least squares when there are more than 3 points, residuals reported;
* [`solve_mixture`]: the separable problem `min Σ (n_i + a_i)^(-b_i)` s.t. `Σ n_i = m`, `n_i >= ℓ`, solved in
  closed form up to one scalar (KKT water-filling, bisection on `log λ`);
* [`DDO`]: table in, [`MixtureWeights`] out.

Usage:

```python
from hf_datavalue.mixing.ddo import DDO, DDOConfig, LossTable

table = LossTable.from_objective_matrix(domains, base=28.11, down=[30.11, ...], up=[25.79, ...], x_down=0.2, x_up=3)
weights = DDO(DDOConfig(lower=0.2)).fit(table)  # MixtureWeights(unit="tokens", predicted_loss=...)
```
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.config import JsonConfig
from ..core.errors import ConfigError, NonFiniteError, ShapeMismatchError, SolverError
from ..core.mixture import MixtureWeights, largest_remainder
from .loss_table import OBJECTIVES, LossTable, PerturbationRun

__all__ = [
    "DDO",
    "DDOConfig",
    "DDOResult",
    "DomainLaw",
    "LossTable",
    "PerturbationRun",
    "PlannedRun",
    "fit_domain_law",
    "perturbation_plan",
    "solve_mixture",
]

logger = logging.getLogger(__name__)

PLAN_MODES = ("hold_others", "fixed_total")


# ------------------------------------------------------------------------------------------- the plan


@dataclass
class PlannedRun:
    """One of the 2m+1 DDO trainings.

    Args:
        name (`str`): `"base"`, or `"<domain>-down"` / `"<domain>-up"`.
        perturbed (`str`, *optional*): the perturbed domain (`None` for the base run).
        amounts (`dict[str, int]`): per-domain amount to train on, in the budget's unit (quotas for the sampler).
        multipliers (`dict[str, float]`): realised `n_i = amount_i / (N / m)` per domain (what the fit uses).
    """

    name: str
    perturbed: str | None
    amounts: dict[str, int]
    multipliers: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def perturbation_plan(
    domains: Sequence[str],
    base_budget: int,
    x_down: float = 0.2,
    x_up: float = 3.0,
    mode: str = "hold_others",
) -> list[PlannedRun]:
    """The 2m+1 run configurations of DDO at budget `base_budget` (spec §3).

    Args:
        domains (`list[str]`): the m domains.
        base_budget (`int`): total amount N of the uniform base run (tokens, or fixed-length examples).
        x_down, x_up (`float`, *optional*, defaults to 0.2 and 3): the multipliers applied to one domain.
            A zero multiplier is floored at `1/(10m)`.
        mode (`str`, *optional*, defaults to `"hold_others"`): `"hold_others"` keeps every other domain at `N/m`
            (the total changes, as the paper describes); `"fixed_total"` renormalises to a total of N (as the
            reference `prepare_data.py` does). The realised multipliers are recorded either way.
    """
    doms = [str(d) for d in domains]
    m = len(doms)
    if m < 2 or len(set(doms)) != m:
        raise ConfigError(f"DDO needs at least 2 distinct domains, got {doms}")
    if mode not in PLAN_MODES:
        raise ConfigError(f"mode must be one of {PLAN_MODES}, got {mode!r}")
    if not (0 <= x_down < 1 < x_up) or not math.isfinite(x_up):
        raise ConfigError(f"need 0 <= x_down < 1 < x_up, got x_down={x_down}, x_up={x_up}")
    if int(base_budget) < m:
        raise ConfigError(f"base_budget {base_budget} is smaller than the number of domains {m}")
    share = base_budget / m
    floor = 1.0 / (10 * m)
    runs = [PlannedRun("base", None, *_amounts(doms, None, 1.0, share, base_budget, mode))]
    for d in doms:
        for tag, x in (("down", max(x_down, floor)), ("up", x_up)):
            runs.append(PlannedRun(f"{d}-{tag}", d, *_amounts(doms, d, x, share, base_budget, mode)))
    return runs


def _amounts(doms, perturbed, x, share, budget, mode):
    rel = [x if d == perturbed else 1.0 for d in doms]
    if mode == "hold_others":
        amounts = [max(1, round(r * share)) for r in rel]
    else:
        amounts = [max(1, a) for a in largest_remainder(rel, int(budget))]
    return dict(zip(doms, amounts)), {d: a / share for d, a in zip(doms, amounts)}


# ------------------------------------------------------------------------------------------- the fit


@dataclass
class DomainLaw:
    """The fitted law `y(x) = (x + a)^(-b) + c` of one domain (normalised objective vs multiplier).

    Args:
        a (`float`): equivalent data size contributed by the other domains (> 0).
        b (`float`): decay exponent (> 0).
        c (`float`): irreducible term.
        residuals (`list[float]`): fit residuals per point (zero for an exactly determined 3-point fit).
        n_points (`int`): points used.
    """

    a: float
    b: float
    c: float
    residuals: list[float] = field(default_factory=list)
    n_points: int = 3

    def __call__(self, x: Any) -> Any:
        return (np.asarray(x, dtype=np.float64) + self.a) ** (-self.b) + self.c


def fit_domain_law(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, name: str = "domain"
) -> DomainLaw:
    """Fit `y = (x + a)^(-b) + c` with `a, b > 0` (log-parametrised), by variable projection over `c`.

    Three points are interpolated exactly; more points are fitted by least squares. Warns when fewer than 4
    points are used (an exactly determined fit has no residuals to judge it by).

    Raises:
        [`SolverError`]: the points are degenerate (fewer than 3 distinct multipliers, or a flat objective).
    """
    from scipy.optimize import least_squares

    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ShapeMismatchError(f"{name}: x and y must be 1-d of the same length, got {xa.shape} and {ya.shape}")
    if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
        raise NonFiniteError(f"{name}: fit points hold NaN or infinite values")
    if np.any(xa <= 0):
        raise ConfigError(f"{name}: multipliers must be positive, got {xa.tolist()}")
    if len(np.unique(xa)) < 3:
        raise SolverError(f"{name}: degenerate fit, need at least 3 distinct multipliers, got {sorted(set(xa))}")
    if float(np.ptp(ya)) <= 1e-9 * max(1.0, float(np.abs(ya).max())):
        raise SolverError(
            f"{name}: degenerate fit, the objective is flat across multipliers {xa.tolist()} (y={ya.tolist()}); "
            "the perturbations were too small to measure, use larger x_down/x_up or a larger budget"
        )
    order = np.argsort(xa)
    if np.any(np.diff(ya[order]) > 0):
        warnings.warn(
            f"{name}: the objective does not decrease with more data of this domain (y={ya[order].tolist()} at "
            f"x={xa[order].tolist()}); the fitted law cannot follow it, check the residuals",
            stacklevel=2,
        )
    if len(xa) < 4:
        logger.warning("%s: exactly determined fit (%d points), no residuals to check it against", name, len(xa))

    def resid(theta: np.ndarray) -> np.ndarray:
        a, b = np.exp(np.clip(theta, -30.0, 30.0))
        g = np.exp(np.clip(-b * np.log(xa + a), -700.0, 700.0))
        r = ya - g
        return r - r.mean()

    # Three points can be interpolated by several (a, b, c); like the reference (`curve_fit` from p0 = 1) we
    # start at a = b = 1 and only try other starts when that one does not fit.
    starts = [(1.0, 1.0)] + [(a0, b0) for a0 in (3.0, 0.3, 10.0, 30.0) for b0 in (1.0, 2.5, 0.3)]
    scale = max(1.0, float(np.abs(ya).max()))
    best = None
    for a0, b0 in starts:
        if best is not None and math.sqrt(2 * best.cost) <= 1e-10 * scale:
            break
        try:
            sol = least_squares(
                resid,
                x0=[math.log(a0), math.log(b0)],
                method="lm",
                xtol=1e-15,
                ftol=1e-15,
                gtol=1e-15,
                max_nfev=10_000,
            )
        except (ValueError, FloatingPointError):  # pragma: no cover - overflow on a wild start
            continue
        if np.isfinite(sol.cost) and (best is None or sol.cost < best.cost):
            best = sol
    if best is None:
        raise SolverError(f"{name}: the fit did not converge from any starting point")
    a, b = math.exp(best.x[0]), math.exp(best.x[1])
    c = float(np.mean(ya - (xa + a) ** (-b)))
    residuals = (ya - ((xa + a) ** (-b) + c)).tolist()
    if not all(math.isfinite(v) for v in (a, b, c)):
        raise SolverError(f"{name}: the fit produced non-finite parameters")
    return DomainLaw(a=a, b=b, c=c, residuals=residuals, n_points=len(xa))


# ------------------------------------------------------------------------------------------- the solve


def solve_mixture(
    a: Sequence[float], b: Sequence[float], lower: float | Sequence[float] = 0.2, total: float | None = None
) -> tuple[np.ndarray, float]:
    """Minimise `Σ_i (n_i + a_i)^(-b_i)` s.t. `Σ_i n_i = total` (default m) and `n_i >= lower_i`.

    KKT water-filling: `n_i(λ) = max(ℓ_i, (b_i/λ)^(1/(b_i+1)) - a_i)`, with `λ` found by bisection on `log λ`
    until `|Σ n - total| <= 1e-12 total`. Returns `(n, λ)`; the weights are `n / total`.
    """
    aa, bb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    m = aa.size
    if bb.shape != aa.shape:
        raise ShapeMismatchError(f"{aa.size} values of a but {bb.size} of b")
    if not (np.isfinite(aa).all() and np.isfinite(bb).all()):
        raise NonFiniteError("a and b must be finite")
    if np.any(aa <= 0) or np.any(bb <= 0):
        raise ConfigError("a and b must be positive")
    lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), aa.shape).copy()
    tot = float(m if total is None else total)
    if np.any(lo < 0) or lo.sum() >= tot:
        raise ConfigError(f"lower bounds must be >= 0 and sum below the total {tot}, got {lo.tolist()}")

    log_b = np.log(bb)

    def n_of(log_lam: float) -> np.ndarray:  # in logs: b up to ~1e3 and tiny λ stay finite
        return np.maximum(lo, np.exp(np.minimum((log_b - log_lam) / (bb + 1.0), 700.0)) - aa)

    # λ_hi puts every domain at its bound, λ_lo gives Σ n >= total (spec §5), as log-marginals
    hi = float(np.max(log_b - (bb + 1.0) * np.log(lo + aa))) + 1e-9
    lo_l = float(np.min(log_b - (bb + 1.0) * np.log(tot + aa))) - 1e-9
    for _ in range(400):
        mid = 0.5 * (hi + lo_l)
        if n_of(mid).sum() > tot:
            lo_l = mid
        else:
            hi = mid
        if hi - lo_l < 1e-15 * max(1.0, abs(hi)):
            break
    log_lam = 0.5 * (hi + lo_l)
    n = n_of(log_lam)
    free = n > lo
    gap = tot - n.sum()
    if free.any():
        n[free] += gap / free.sum()  # last-ulp polish: Σ n == total to 1e-12
    if abs(n.sum() - tot) > 1e-12 * tot:
        raise SolverError(f"bisection did not reach Σ n = {tot} (got {n.sum()})")
    return n, math.exp(max(log_lam, -745.0))


# ------------------------------------------------------------------------------------------- the facade


@dataclass
class DDOConfig(JsonConfig):
    """Configuration of [`DDO`] (and of the perturbation runs of [`DDORunner`]).

    Args:
        lower (`float`, *optional*, defaults to 0.2): lower bound ℓ on each domain's multiplier
            (the smallest multiplier seen in the fit keeps the optimum inside the fitted range).
        lower_per_domain (`dict[str, float]`, *optional*): per-domain overrides of `lower`.
        x_down (`float`, *optional*, defaults to 0.2): the down multiplier of the plan.
        x_up (`float`, *optional*, defaults to 3.0): the up multiplier of the plan.
        mode (`str`, *optional*, defaults to `"hold_others"`): plan mode, see [`perturbation_plan`].
        metric (`str`, *optional*, defaults to `"perplexity"`): the per-domain objective the runner records.
    """

    method = "ddo"

    lower: float = field(default=0.2, metadata={"help": "Lower bound on each domain's multiplier n_i = w_i * m."})
    lower_per_domain: dict[str, float] = field(default_factory=dict, metadata={"help": "Per-domain lower bounds."})
    x_down: float = field(default=0.2, metadata={"help": "Down multiplier of the perturbation runs."})
    x_up: float = field(default=3.0, metadata={"help": "Up multiplier of the perturbation runs."})
    mode: str = field(default="hold_others", metadata={"help": "'hold_others' or 'fixed_total'."})
    metric: str = field(default="perplexity", metadata={"help": "'perplexity' (paper) or 'loss'."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in PLAN_MODES:
            raise ConfigError(f"mode must be one of {PLAN_MODES}, got {self.mode!r}")
        if self.metric not in OBJECTIVES:
            raise ConfigError(f"metric must be one of {OBJECTIVES}, got {self.metric!r}")
        if not (0 <= self.lower < 1):
            raise ConfigError(f"lower must be in [0, 1), got {self.lower}")


@dataclass
class DDOResult:
    """Everything [`DDO.fit`] computed: the weights, each domain's law, the multipliers and the KKT multiplier."""

    weights: MixtureWeights
    laws: dict[str, DomainLaw]
    multipliers: dict[str, float]
    lagrange: float
    base_value: float


class DDO:
    """Fit DDO weights from a [`LossTable`].

    Args:
        config ([`DDOConfig`], *optional*): bounds and plan settings.

    Usage:

    ```python
    ddo = DDO(DDOConfig(lower=0.2))
    weights = ddo.fit(table)        # MixtureWeights, unit "tokens", budget = table.budget
    ddo.result_.laws["wiki"].b      # fitted exponent
    ```
    """

    def __init__(self, config: DDOConfig | None = None):
        self.config = config or DDOConfig()
        self.result_: DDOResult | None = None

    def fit(self, table: LossTable) -> MixtureWeights:
        """Fit each domain's law and solve for the optimal weights; stores the details in `self.result_`."""
        laws = {}
        for d in table.domains:
            x, y = table.points(d)
            laws[d] = fit_domain_law(x, y, name=d)
        lower = [self.config.lower_per_domain.get(d, self.config.lower) for d in table.domains]
        a = [laws[d].a for d in table.domains]
        b = [laws[d].b for d in table.domains]
        n, lam = solve_mixture(a, b, lower=lower)
        m = len(table.domains)
        base = table.base_value()
        aa, bb = np.asarray(a), np.asarray(b)
        predicted = base * (1.0 + float(np.sum((n + aa) ** (-bb) - (1.0 + aa) ** (-bb))))
        prov = {
            "method": "ddo",
            "config": self.config.to_dict(),
            "metric": table.metric,
            "base_value": base,
            "laws": {d: asdict(laws[d]) for d in table.domains},
            "multipliers": dict(zip(table.domains, n.tolist())),
        }
        weights = MixtureWeights(
            dict(zip(table.domains, (n / m).tolist())),
            unit=table.unit,
            budget=table.budget,
            predicted_loss=predicted,
            provenance=prov,
        )
        self.result_ = DDOResult(weights, laws, dict(zip(table.domains, n.tolist())), lam, base)
        logger.info("DDO weights %s (predicted %s %.4g, base %.4g)", weights.weights, table.metric, predicted, base)
        return weights
