"""Baselines fitted on the same pilot runs as Projektor's predictor.

* [`DataMixingLaw`]: Ye et al. 2024, `L(p) = c + k·exp(Σ_i t_i·p_i)` at one size (fitted by least squares).
* [`PowerLawInN`]: per mixture, `L(N) = a·N^b` through the two pilot sizes (log-log linear); it needs the
  mixture's own pilot labels, so it only extrapolates in N.
* [`RegMixRegressor`]: RegMix-style LightGBM regressor on the mixture vector (plus `ln N` when fitted on several
  sizes).
* [`LabelBalanceLaw`]: a line in `KL(q_val ‖ Σ_i p_i·h_i)`, the divergence of the mixture's class histogram (from
  the sources' pilot labels `h_i`) from the validation one `q_val`: what the OT feature would reduce to if the
  embedder separated the classes perfectly. It reads only labels the buyer already has.

Usage:

```python
law = DataMixingLaw().fit(mixtures, acc)           # one size
law.predict(test_mixtures)
PowerLawInN().fit({1000: acc0, 1500: acc1}).predict(10_000)
RegMixRegressor(seed=0).fit(mixtures, acc).predict(test_mixtures)
LabelBalanceLaw(source_histograms, valid_histogram).fit(mixtures, acc).predict(test_mixtures)
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.errors import ConfigError, NonFiniteError

__all__ = ["DataMixingLaw", "LabelBalanceLaw", "PowerLawInN", "RegMixRegressor", "class_histograms"]


def _xy(mixtures: Any, perf: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(mixtures, dtype=np.float64)
    y = np.asarray(perf, dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise ConfigError(f"mixtures of shape {x.shape} do not match {len(y)} labels")
    if not np.isfinite(y).all():
        raise NonFiniteError("performance labels have NaN or infinite entries")
    return x, y


class DataMixingLaw:
    """`L(p) = c + k·exp(Σ_i t_i·p_i)` (Data Mixing Laws, Ye et al. 2024), least squares from several starts."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.params: np.ndarray | None = None

    @staticmethod
    def _f(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        c, k, t = theta[0], theta[1], theta[2:]
        return c + k * np.exp(np.clip(x @ t, -50, 50))

    def fit(self, mixtures: Any, perf: Any) -> DataMixingLaw:
        from scipy.optimize import least_squares

        x, y = _xy(mixtures, perf)
        if len(y) < x.shape[1] + 2:
            raise ConfigError(f"the mixing law has {x.shape[1] + 2} parameters but only {len(y)} mixtures were given")
        rng = np.random.default_rng(self.seed)
        best: tuple[float, np.ndarray] | None = None
        scale = float(np.std(y)) or 1.0
        for _ in range(8):
            t0 = rng.normal(0, 1, size=x.shape[1])
            theta0 = np.concatenate([[float(np.mean(y))], [rng.choice([-1, 1]) * scale], t0])
            res = least_squares(lambda th: self._f(th, x) - y, theta0, method="lm", max_nfev=4000)
            cost = float(np.mean(res.fun**2))
            if best is None or cost < best[0]:
                best = (cost, res.x)
        assert best is not None
        self.params = best[1]
        return self

    def predict(self, mixtures: Any) -> np.ndarray:
        if self.params is None:
            raise ConfigError("fit the mixing law first")
        return self._f(self.params, np.asarray(mixtures, dtype=np.float64))


class PowerLawInN:
    """Per mixture `L(N) = a·N^b` through two pilot sizes (positive labels, e.g. accuracy % or log-loss)."""

    def __init__(self) -> None:
        self.n0 = self.n1 = 0.0
        self.l0: np.ndarray | None = None
        self.l1: np.ndarray | None = None

    def fit(self, perf: Mapping[int, Any]) -> PowerLawInN:
        if len(perf) != 2:
            raise ConfigError(f"the power law needs labels at exactly two sizes, got {sorted(perf)}")
        (self.n0, l0), (self.n1, l1) = sorted((float(n), np.asarray(v, dtype=np.float64)) for n, v in perf.items())
        if (l0 <= 0).any() or (l1 <= 0).any():
            raise ConfigError("a power law needs positive labels")
        self.l0, self.l1 = l0, l1
        return self

    def predict(self, size: float) -> np.ndarray:
        if self.l0 is None or self.l1 is None:
            raise ConfigError("fit the power law first")
        b = np.log(self.l1 / self.l0) / math.log(self.n1 / self.n0)
        return self.l0 * (float(size) / self.n0) ** b


class RegMixRegressor:
    """RegMix-style LightGBM regressor on the mixture vector (and `ln N` when `sizes` are given)."""

    def __init__(self, seed: int = 0, n_estimators: int = 200):
        self.seed = seed
        self.n_estimators = n_estimators
        self.model: Any = None

    def _features(self, mixtures: Any, sizes: Any | None) -> np.ndarray:
        x = np.asarray(mixtures, dtype=np.float64)
        if sizes is None:
            return x
        return np.column_stack([x, np.log(np.broadcast_to(np.asarray(sizes, dtype=np.float64), (len(x),)))])

    def fit(self, mixtures: Any, perf: Any, sizes: Any | None = None) -> RegMixRegressor:
        import lightgbm as lgb

        x, y = _xy(mixtures, perf)
        self.model = lgb.LGBMRegressor(
            n_estimators=self.n_estimators, learning_rate=0.05, num_leaves=8, min_child_samples=3,
            random_state=self.seed, verbose=-1, n_jobs=1,
        ).fit(self._features(x, sizes), y)  # fmt: skip
        return self

    def predict(self, mixtures: Any, sizes: Any | None = None) -> np.ndarray:
        if self.model is None:
            raise ConfigError("fit the regressor first")
        return np.asarray(self.model.predict(self._features(mixtures, sizes)), dtype=np.float64)


def class_histograms(labels: Any, n_classes: int) -> np.ndarray:
    """Class frequencies of each label array in `labels` (rows sum to 1), e.g. the pilot labels of every source."""
    rows = []
    for k, y in enumerate(labels):
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        if len(y) == 0:
            raise ConfigError(f"label array {k} is empty")
        if y.min() < 0 or y.max() >= n_classes:
            raise ConfigError(f"label array {k} has labels outside 0..{n_classes - 1}")
        rows.append(np.bincount(y, minlength=n_classes) / len(y))
    return np.stack(rows)


class LabelBalanceLaw:
    """`L(p) = a + b·KL(q_val ‖ Σ_i p_i·h_i)`, least squares (a label-only baseline for stage 1).

    Args:
        source_histograms (`np.ndarray`): `(m, C)` class histograms of the sources (see [`class_histograms`]).
        valid_histogram (`np.ndarray`): `(C,)` class histogram of the validation set.
        floor (`float`, *optional*, defaults to 1e-4): added to the mixture histogram so an absent class costs a
            finite amount.
    """

    def __init__(self, source_histograms: Any, valid_histogram: Any, floor: float = 1e-4):
        self.h = np.asarray(source_histograms, dtype=np.float64)
        self.q = np.asarray(valid_histogram, dtype=np.float64).reshape(-1)
        if self.h.ndim != 2 or self.h.shape[1] != len(self.q):
            raise ConfigError(f"source histograms {self.h.shape} and validation histogram {self.q.shape} disagree")
        if not (np.isfinite(self.h).all() and np.isfinite(self.q).all()) or (self.h < 0).any() or (self.q < 0).any():
            raise ConfigError("class histograms must be finite and non-negative")
        self.floor = float(floor)
        self.coef: np.ndarray | None = None

    def divergence(self, mixtures: Any) -> np.ndarray:
        """`KL(q_val ‖ Σ_i p_i·h_i)` for every mixture (rows of `mixtures`)."""
        mix = np.asarray(mixtures, dtype=np.float64) @ self.h + self.floor
        mix /= mix.sum(axis=1, keepdims=True)
        q = self.q / self.q.sum()
        keep = q > 0
        return np.sum(q[keep] * np.log(q[keep] / mix[:, keep]), axis=1)

    def fit(self, mixtures: Any, perf: Any) -> LabelBalanceLaw:
        x, y = _xy(mixtures, perf)
        if x.shape[1] != len(self.h):
            raise ConfigError(f"mixtures have {x.shape[1]} sources but {len(self.h)} histograms were given")
        design = np.column_stack([np.ones(len(x)), self.divergence(x)])
        self.coef = np.linalg.lstsq(design, y, rcond=None)[0]
        return self

    def predict(self, mixtures: Any) -> np.ndarray:
        if self.coef is None:
            raise ConfigError("fit the label-balance law first")
        return self.coef[0] + self.coef[1] * self.divergence(mixtures)
