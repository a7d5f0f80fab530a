"""Domain mixture weights: the object every mixing method returns and the sampler consumes.

A [`MixtureWeights`] holds one non-negative weight per named domain, normalised to sum to 1 in float64, the
*unit* the weights are in (`"tokens"`: share of training tokens, what DDO and AutoScale produce; `"examples"`:
per-example sampling probabilities, what `interleave_datasets` draws with), the budget they were fitted for,
and a provenance dict. It round-trips through JSON and converts between the two units with measured mean
document lengths (spec §7): `p_i ∝ w_i / t̄_i`.

Usage:

```python
from hf_datavalue.mixing import MixtureWeights

w = MixtureWeights({"wiki": 0.6, "code": 0.4}, unit="tokens", budget=1e6)
p = w.to_example_probabilities({"wiki": 300.0, "code": 600.0})  # wiki 0.75, code 0.25 per example
quotas = w.to_quotas(10_000, tokens_per_example={"wiki": 300.0, "code": 600.0})
w.save("weights.json"); assert MixtureWeights.load("weights.json") == w
```
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, EmptyDatasetError, NonFiniteError, OutputExistsError, ShapeMismatchError
from .io import read_json, write_json_atomic
from .rows import ROW_KEY

__all__ = ["UNITS", "MixtureWeights", "largest_remainder", "measure_tokens_per_example", "normalize_weights"]

logger = logging.getLogger(__name__)

UNITS = ("tokens", "examples")


def normalize_weights(weights: Mapping[str, float], what: str = "weights") -> dict[str, float]:
    """Validate `weights` (finite, non-negative, not all zero) and renormalise them in float64 to sum to 1.

    Raises:
        [`NonFiniteError`]: a weight is NaN or infinite.
        [`ConfigError`]: a weight is negative, or all weights are zero, or there are no domains.
    """
    if not weights:
        raise ConfigError(f"{what}: no domains given")
    names = [str(k) for k in weights]
    if len(set(names)) != len(names):
        raise ConfigError(f"{what}: duplicate domain names {names}")
    vals = np.asarray([float(v) for v in weights.values()], dtype=np.float64)
    bad = [n for n, v in zip(names, vals) if not math.isfinite(v)]
    if bad:
        raise NonFiniteError(f"{what}: non-finite weight for domain(s) {bad}")
    neg = [n for n, v in zip(names, vals) if v < 0]
    if neg:
        raise ConfigError(f"{what}: negative weight for domain(s) {neg}; weights must be >= 0")
    total = float(vals.sum())
    if total <= 0:
        raise ConfigError(f"{what}: all weights are zero; at least one domain needs a positive weight")
    vals = vals / total
    vals = vals / vals.sum()  # second pass: the float64 sum is then 1 to the last ulp or two
    return {n: float(v) for n, v in zip(names, vals)}


def largest_remainder(weights: Sequence[float], total: int) -> list[int]:
    """Integers `q_i >= 0` with `sum(q) == total` and `q_i ≈ total * w_i` (Hamilton / largest-remainder method).

    Ties in the remainders go to the lower index, so the result is deterministic.
    """
    if total < 0:
        raise ConfigError(f"total must be >= 0, got {total}")
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    raw = w * total
    base = np.floor(raw).astype(np.int64)
    short = int(total - base.sum())
    order = sorted(range(len(w)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[:short]:
        base[i] += 1
    return [int(x) for x in base]


@dataclass
class MixtureWeights:
    """Per-domain mixture weights with their unit, budget and provenance.

    Args:
        weights (`dict[str, float]`): one weight per domain; validated (finite, >= 0, not all zero) and
            renormalised to sum to 1. Zero weights are kept (they mean "skip this domain").
        unit (`str`, *optional*, defaults to `"tokens"`): `"tokens"` (share of training tokens, as DDO and
            AutoScale produce) or `"examples"` (per-example sampling probabilities).
        budget (`float`, *optional*): the total budget the weights were fitted for, in `unit`s (e.g. 1.2e9 tokens).
        predicted_loss (`float`, *optional*): the surrogate's predicted validation objective at these weights.
        provenance (`dict`, *optional*): method, parameters and inputs that produced the weights (JSON-able).

    Usage:

    ```python
    w = MixtureWeights({"a": 1, "b": 3})
    w["b"]            # 0.75
    w.as_list(["b", "a"])  # [0.75, 0.25]
    ```
    """

    weights: dict[str, float]
    unit: str = field(
        default="tokens", metadata={"help": "'tokens' (token shares) or 'examples' (sampling probabilities)."}
    )
    budget: float | None = field(default=None, metadata={"help": "Total budget the weights are for, in `unit`s."})
    predicted_loss: float | None = field(
        default=None, metadata={"help": "Surrogate's predicted validation objective."}
    )
    provenance: dict[str, Any] = field(default_factory=dict, metadata={"help": "How the weights were produced."})

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(f"unit must be one of {UNITS}, got {self.unit!r}")
        self.weights = normalize_weights(self.weights)
        if self.budget is not None:
            self.budget = float(self.budget)
            if not math.isfinite(self.budget) or self.budget <= 0:
                raise ConfigError(f"budget must be a positive finite number, got {self.budget}")
        if self.predicted_loss is not None:
            self.predicted_loss = float(self.predicted_loss)

    # ------------------------------------------------------------------ access
    @property
    def domains(self) -> list[str]:
        """Domain names in insertion order."""
        return list(self.weights)

    def __getitem__(self, domain: str) -> float:
        return self.weights[domain]

    def __len__(self) -> int:
        return len(self.weights)

    def as_list(self, domains: Iterable[str] | None = None) -> list[float]:
        """Weights in the order of `domains` (default: insertion order); raises on unknown or missing names."""
        if domains is None:
            return list(self.weights.values())
        order = list(domains)
        check_same_domains(order, self.domains, "requested domains", "weights")
        return [self.weights[d] for d in order]

    def allocations(self, budget: float | None = None) -> dict[str, float]:
        """Absolute per-domain amounts `budget * w_i` (defaults to the stored budget)."""
        budget = self.budget if budget is None else float(budget)
        if budget is None:
            raise ConfigError("no budget: pass one or construct the weights with budget=...")
        return {d: budget * w for d, w in self.weights.items()}

    # ------------------------------------------------------------ conversions
    def to_example_probabilities(self, tokens_per_example: Mapping[str, float]) -> MixtureWeights:
        """Token weights → per-example sampling probabilities, `p_i ∝ w_i / t̄_i` (spec §7).

        Args:
            tokens_per_example (`dict[str, float]`): mean tokens per example of each domain, measured with the
                training tokenizer (see [`measure_tokens_per_example`]).
        """
        if self.unit != "tokens":
            raise ConfigError(f"to_example_probabilities needs token weights, these are in {self.unit!r}")
        t = _lengths(tokens_per_example, self.domains)
        p = {d: self.weights[d] / t[d] for d in self.domains}
        budget = None if self.budget is None else self.budget * sum(self.weights[d] / t[d] for d in t)
        prov = dict(self.provenance, converted_from="tokens", tokens_per_example=t)
        return MixtureWeights(p, unit="examples", budget=budget, predicted_loss=self.predicted_loss, provenance=prov)

    def to_token_weights(self, tokens_per_example: Mapping[str, float]) -> MixtureWeights:
        """Per-example probabilities → token shares, `w_i ∝ p_i * t̄_i` (the inverse of [`to_example_probabilities`])."""
        if self.unit != "examples":
            raise ConfigError(f"to_token_weights needs example probabilities, these are in {self.unit!r}")
        t = _lengths(tokens_per_example, self.domains)
        w = {d: self.weights[d] * t[d] for d in self.domains}
        budget = None if self.budget is None else self.budget * sum(self.weights[d] * t[d] for d in t)
        prov = dict(self.provenance, converted_from="examples", tokens_per_example=t)
        return MixtureWeights(w, unit="tokens", budget=budget, predicted_loss=self.predicted_loss, provenance=prov)

    def to_quotas(self, total: int, tokens_per_example: Mapping[str, float] | None = None) -> dict[str, int]:
        """Integer per-domain example counts that sum exactly to `total` examples (largest remainder).

        Token weights need `tokens_per_example` (converted first); example weights are used as they are.
        """
        w = self
        if self.unit == "tokens":
            if tokens_per_example is None:
                raise ConfigError(
                    "these weights are per token: pass tokens_per_example to convert them to example quotas "
                    "(or build MixtureWeights(..., unit='examples') for fixed-length packed blocks)"
                )
            w = self.to_example_probabilities(tokens_per_example)
        return dict(zip(w.domains, largest_remainder(w.as_list(), int(total))))

    def restrict(self, domains: Iterable[str]) -> MixtureWeights:
        """The weights of a subset of domains, renormalised."""
        keep = list(domains)
        check_same_domains(keep, [d for d in self.domains if d in keep], "requested domains", "weights")
        return MixtureWeights({d: self.weights[d] for d in keep}, unit=self.unit, provenance=dict(self.provenance))

    # --------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the card metadata block and the file format). `domains` keeps the order, which
        key-sorted JSON writers would otherwise lose."""
        return {**asdict(self), "domains": self.domains}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MixtureWeights:
        """Inverse of [`to_dict`]; unknown keys raise a [`ConfigError`]."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"MixtureWeights must be read from a JSON object, got {type(data).__name__}")
        known = {"weights", "unit", "budget", "predicted_loss", "provenance", "domains"}
        extra = set(data) - known
        if extra:
            raise ConfigError(f"unknown MixtureWeights fields {sorted(extra)}")
        if "weights" not in data:
            raise ConfigError("a MixtureWeights dict needs a 'weights' field")
        fields = dict(data)
        order = fields.pop("domains", None)
        if order is not None:
            weights = fields["weights"]
            check_same_domains(order, list(weights), "domains", "weights")
            fields["weights"] = {d: weights[d] for d in order}
        return cls(**fields)

    def save(self, path: str | os.PathLike[str], overwrite: bool = True) -> Path:
        """Write the weights atomically: as JSON when `path` ends in `.json`, else as a result folder
        (`weights.json` plus `meta.json`, the method contract's layout).

        Raises:
            OutputExistsError: the target exists and `overwrite=False`.
        """
        target = Path(path)
        if target.suffix != ".json":
            if (target / "weights.json").exists() and not overwrite:
                raise OutputExistsError(f"{target} already holds mixture weights; pick another folder or overwrite")
            target.mkdir(parents=True, exist_ok=True)
            write_json_atomic(target / "meta.json", self.value_provenance().to_dict())
            write_json_atomic(target / "weights.json", self.to_dict())
            return target
        if target.exists() and not overwrite:
            raise OutputExistsError(f"{target} exists; pick another path or overwrite")
        return write_json_atomic(target, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MixtureWeights:
        """Read weights written by [`save`] (a JSON file or a result folder)."""
        source = Path(path)
        return cls.from_dict(read_json(source / "weights.json" if source.is_dir() else source))

    def to_dataset(self) -> Any:
        """A `datasets.Dataset` with one row per domain: `row_idx` (domain position), `domain`, `weight`."""
        from datasets import Dataset, Features, Value

        features = Features({ROW_KEY: Value("int64"), "domain": Value("string"), "weight": Value("float64")})
        return Dataset.from_dict(
            {ROW_KEY: list(range(len(self))), "domain": self.domains, "weight": self.as_list()}, features=features
        )

    def value_provenance(self) -> Any:
        """A [`~hf_datavalue.core.provenance.ValueProvenance`] of the [`to_dataset`] table (for `push_values`)."""
        from .provenance import ValueProvenance, row_key_fingerprint

        return ValueProvenance(
            method=str(self.provenance.get("method", "mixture")),
            score_column="weight",
            score_semantics=f"share of each domain in {self.unit} (weights sum to one)",
            n_rows=len(self),
            row_fingerprint=row_key_fingerprint(np.arange(len(self))),
            params={k: v for k, v in self.provenance.items() if k != "method"},
            extra={"unit": self.unit, "budget": self.budget, "predicted_loss": self.predicted_loss},
        )

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None) -> Any:
        """A bar chart of the weights (see [`hf_datavalue.core.plots.plot_weights`]); returns the figure."""
        from .plots import plot_weights

        return plot_weights({title or self.provenance.get("method", "weights"): self}, path=path)


def check_same_domains(given: Iterable[str], expected: Iterable[str], given_what: str, expected_what: str) -> None:
    """Raise a [`ConfigError`] naming the domains present on one side only."""
    g, e = list(given), list(expected)
    missing = [d for d in e if d not in g]
    unknown = [d for d in g if d not in e]
    if missing or unknown:
        parts = []
        if unknown:
            parts.append(f"{given_what} has domain(s) {unknown} that {expected_what} does not have")
        if missing:
            parts.append(f"{given_what} lacks domain(s) {missing} that {expected_what} has")
        raise ConfigError("; ".join(parts))


def _lengths(tokens_per_example: Mapping[str, float], domains: list[str]) -> dict[str, float]:
    check_same_domains(list(tokens_per_example), domains, "tokens_per_example", "weights")
    out = {}
    for d in domains:
        v = float(tokens_per_example[d])
        if not math.isfinite(v) or v <= 0:
            raise ConfigError(f"tokens_per_example[{d!r}] must be positive and finite, got {v}")
        out[d] = v
    return out


def measure_tokens_per_example(
    datasets: Mapping[str, Any],
    tokenizer: Any,
    text_column: str = "text",
    sample_size: int | None = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Mean tokens per example of each domain, measured with the training tokenizer (spec §7).

    Args:
        datasets (`dict[str, datasets.Dataset | Iterable[dict]]`): the domains.
        tokenizer: a `transformers` tokenizer (called on a list of strings) or any callable
            `str -> list[int]`.
        text_column (`str`, *optional*, defaults to `"text"`): the text field.
        sample_size (`int`, *optional*, defaults to 1000): examples measured per domain (a seeded random
            sample of a map-style dataset, the first ones of an iterable); `None` measures every example.
        seed (`int`, *optional*, defaults to 0): seed of the sample.
    """
    out: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    for name, ds in datasets.items():
        texts: list[str]
        if hasattr(ds, "__len__") and hasattr(ds, "select"):
            n = len(ds)
            if n == 0:
                raise EmptyDatasetError(f"domain {name!r} is empty")
            idx = (
                np.arange(n) if sample_size is None or sample_size >= n else rng.choice(n, sample_size, replace=False)
            )
            texts = list(ds.select(np.sort(idx))[text_column])
        else:
            texts = []
            for i, ex in enumerate(ds):
                if sample_size is not None and i >= sample_size:
                    break
                texts.append(ex[text_column])
            if not texts:
                raise EmptyDatasetError(f"domain {name!r} is empty")
        if callable(tokenizer) and hasattr(tokenizer, "pad_token_id"):
            lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
        else:
            lengths = [len(tokenizer(t)) for t in texts]
        if len(lengths) != len(texts):
            raise ShapeMismatchError("tokenizer returned a different number of sequences than texts")
        out[name] = float(np.mean(lengths))
        logger.info("domain %s: %.1f tokens per example over %d examples", name, out[name], len(texts))
    return out
