"""The measured DDO perturbation runs at one budget: [`PerturbationRun`] and [`LossTable`] (JSON round trip).

The JSON layout is documented in `docs/mixing.md` ("The loss table"). Every value is checked on construction:
unique domain names, finite and positive losses or perplexities (DDO fits ratios to the base run), positive
multipliers, known fields only.

Usage:

```python
from hf_datavalue.mixing.loss_table import LossTable

table = LossTable.load("ddo/loss_table.json")
table.save("copy.json")
```
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError, NonFiniteError, ShapeMismatchError
from ..core.io import read_json, write_json_atomic
from ..core.mixture import check_same_domains

__all__ = ["OBJECTIVES", "LossTable", "PerturbationRun"]

OBJECTIVES = ("perplexity", "loss")


# ------------------------------------------------------------------------------------------- the table


@dataclass
class PerturbationRun:
    """What one DDO training measured.

    Args:
        name (`str`): the run name (`"base"`, `"wiki-down"`, ...).
        perturbed (`str`, *optional*): the perturbed domain, `None` for a base run (several base runs, e.g. seeds,
            are averaged).
        multipliers (`dict[str, float]`): realised multiplier `n_i` of every domain.
        losses (`dict[str, float]`): per-domain validation value (perplexity or loss, see [`LossTable.metric`]).
        objective (`float`, *optional*): the aggregate value; defaults to the unweighted mean of `losses`.
    """

    name: str
    perturbed: str | None
    multipliers: dict[str, float]
    losses: dict[str, float] = field(default_factory=dict)
    objective: float | None = None

    def value(self) -> float:
        if self.objective is not None:
            return float(self.objective)
        if not self.losses:
            raise ConfigError(f"run {self.name!r} has neither losses nor an objective")
        return float(np.mean(list(self.losses.values())))


@dataclass
class LossTable:
    """The measured DDO perturbation runs at one budget.

    Args:
        domains (`list[str]`): the m domains, in output order.
        runs (`list[PerturbationRun]`): at least one base run and, per domain, at least one perturbed run.
        metric (`str`, *optional*, defaults to `"perplexity"`): what `losses`/`objective` hold
            (`"perplexity"`, as the paper, or `"loss"`).
        budget (`float`, *optional*): the base budget N, recorded on the output weights.
        unit (`str`, *optional*, defaults to `"tokens"`): the budget's unit.

    Usage:

    ```python
    table = LossTable.load("ddo/loss_table.json")
    table.save("copy.json")
    ```
    """

    domains: list[str]
    runs: list[PerturbationRun]
    metric: str = "perplexity"
    budget: float | None = None
    unit: str = "tokens"

    def __post_init__(self) -> None:
        if isinstance(self.domains, str) or not isinstance(self.domains, Sequence):
            raise ConfigError(f"domains must be a list of names, got {self.domains!r}")
        self.domains = [str(d) for d in self.domains]
        repeated = sorted({d for d in self.domains if self.domains.count(d) > 1})
        if repeated:
            raise ConfigError(
                f"the loss table lists the domains {repeated} more than once; domain names must be unique"
            )
        if len(self.domains) < 2:
            raise ConfigError(f"DDO needs at least 2 domains, got {self.domains}")
        if isinstance(self.runs, str | bytes) or not isinstance(self.runs, Sequence):
            raise ConfigError("runs must be a list of run objects")
        self.runs = [_as_run(r, i) for i, r in enumerate(self.runs)]
        if self.metric not in OBJECTIVES:
            raise ConfigError(f"metric must be one of {OBJECTIVES}, got {self.metric!r}")
        for r in self.runs:
            if r.perturbed is not None and r.perturbed not in self.domains:
                raise ConfigError(f"run {r.name!r} perturbs {r.perturbed!r}, which is not one of {self.domains}")
            check_same_domains(list(r.multipliers), self.domains, f"run {r.name!r} multipliers", "the table")
            if r.losses:
                check_same_domains(list(r.losses), self.domains, f"run {r.name!r} losses", "the table")
            vals = [*r.multipliers.values(), *r.losses.values(), *([r.objective] if r.objective is not None else [])]
            if not all(math.isfinite(float(v)) for v in vals):
                raise NonFiniteError(f"run {r.name!r} holds NaN or infinite values")
            if any(float(v) <= 0 for v in r.multipliers.values()):
                raise ConfigError(f"run {r.name!r} has a non-positive multiplier")
            # DDO fits ratios y = value / base value: a zero or negative loss makes them meaningless (and a zero
            # base divides by zero). Cross-entropy and perplexity are positive; shift other metrics first.
            measured = {**r.losses, **({"objective": r.objective} if r.objective is not None else {})}
            bad = {k: float(v) for k, v in measured.items() if float(v) <= 0}
            if bad:
                raise ConfigError(
                    f"run {r.name!r} has non-positive {self.metric} values {bad}; DDO needs positive losses or "
                    "perplexities (it fits ratios to the base run), so check the table's sign and units"
                )
        if self.budget is not None and not (math.isfinite(float(self.budget)) and float(self.budget) > 0):
            raise ConfigError(f"budget must be a positive number, got {self.budget!r}")

    @classmethod
    def from_objective_matrix(
        cls,
        domains: Sequence[str],
        base: float,
        down: Sequence[float],
        up: Sequence[float],
        x_down: float = 0.2,
        x_up: float = 3.0,
        metric: str = "perplexity",
        budget: float | None = None,
    ) -> LossTable:
        """A table from the aggregate objective of the base run and of each domain's down and up run
        (e.g. column 8 of the paper's matrix), with the multipliers held-others style."""
        doms = list(domains)
        if len(down) != len(doms) or len(up) != len(doms):
            raise ShapeMismatchError(f"{len(doms)} domains but {len(down)} down and {len(up)} up values")
        ones = dict.fromkeys(doms, 1.0)
        runs = [PerturbationRun("base", None, dict(ones), objective=float(base))]
        for d, yd, yu in zip(doms, down, up):
            runs.append(PerturbationRun(f"{d}-down", d, {**ones, d: float(x_down)}, objective=float(yd)))
            runs.append(PerturbationRun(f"{d}-up", d, {**ones, d: float(x_up)}, objective=float(yu)))
        return cls(doms, runs, metric=metric, budget=budget)

    def base_value(self) -> float:
        base = [r.value() for r in self.runs if r.perturbed is None]
        if not base:
            raise ConfigError("the loss table has no base run (perturbed=None)")
        value = float(np.mean(base))
        if not value > 0:
            raise ConfigError(f"the base run's {self.metric} is {value}; DDO needs a positive base value")
        return value

    def points(self, domain: str) -> tuple[np.ndarray, np.ndarray]:
        """The normalised fit points `(x, y)` of one domain, the base point `(1, 1)` included."""
        base = self.base_value()
        xs, ys = [1.0], [1.0]
        for r in self.runs:
            if r.perturbed == domain:
                xs.append(float(r.multipliers[domain]))
                ys.append(r.value() / base)
        return np.asarray(xs), np.asarray(ys)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LossTable:
        """Build from the JSON layout of [`to_dict`]; a malformed layout raises [`ConfigError`] naming the field.

        Layout: `{"domains": [...], "runs": [{"name", "perturbed", "multipliers": {domain: n_i},
        "losses": {domain: value}, "objective": value or null}, ...], "metric": "perplexity" | "loss",
        "budget": N or null, "unit": "tokens" | "examples"}`.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a loss table must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = sorted({"domains", "runs"} - set(data))
        if unknown or missing:
            raise ConfigError(
                f"malformed loss table: unknown fields {unknown}, missing fields {missing}; expected {sorted(known)}"
            )
        return cls(**dict(data))

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LossTable:
        return cls.from_dict(read_json(path))


def _as_run(run: Any, index: int) -> PerturbationRun:
    if isinstance(run, PerturbationRun):
        return run
    if not isinstance(run, Mapping):
        raise ConfigError(f"run {index} of the loss table must be an object, got {type(run).__name__}")
    known = {f.name for f in fields(PerturbationRun)}
    unknown, missing = sorted(set(run) - known), sorted({"name", "perturbed", "multipliers"} - set(run))
    if unknown or missing:
        raise ConfigError(
            f"run {index} ({run.get('name', '?')!r}) of the loss table: unknown fields {unknown}, missing {missing}"
        )
    for name in ("multipliers", "losses"):
        if name in run and not isinstance(run[name], Mapping):
            raise ConfigError(f"run {run['name']!r}: {name} must map each domain to a number")
    try:
        values = [*run["multipliers"].values(), *(run.get("losses") or {}).values()]
        values += [run["objective"]] if run.get("objective") is not None else []
        for v in values:
            float(v)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"run {run['name']!r} of the loss table holds a value that is not a number ({err})"
        ) from None
    return PerturbationRun(**dict(run))
