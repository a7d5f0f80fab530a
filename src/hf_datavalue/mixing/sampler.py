"""A quota-exact, resumable drop-in for `datasets.interleave_datasets`.

`datasets.interleave_datasets(probabilities=...)` draws source ids i.i.d., so the mixture is right only in
expectation, a zero probability can hang `all_exhausted`, `all_exhausted` oversamples small sources regardless
of the probabilities, and token weights are silently used as per-example probabilities (spec §8). This
module replaces the i.i.d. draws with **smooth weighted round-robin** (SWRR) over integer per-domain shares:
every step adds `p_i` to each domain's credit, emits the domain with the largest credit and subtracts `Σp`
from it. Every prefix of the stream then holds each domain within about one example of its share, and a
quota run of `Σq` steps yields exactly `q_i` examples of domain i.

* `Dataset` inputs give a `Dataset` (the interleaved order is materialised as an index mapping, so it is
  indexable, deterministic and resumable by position, and works with any number of DataLoader workers).
* `IterableDataset` inputs give an `IterableDataset` of `num_shards` independent shards. Shard j reads the
  j-th part of every source and runs its own SWRR, so each DataLoader worker and each rank (after
  `datasets.distributed.split_dataset_by_node`, interleave **first**) gets disjoint data with the right
  proportions, and the union over ranks keeps them. `state_dict()` / `load_state_dict()` resume mid-stream
  with the identical remaining stream (the stream is a deterministic function of the seed).

Usage:

```python
from hf_datavalue.mixing import interleave_datasets

mixed = interleave_datasets({"wiki": wiki, "code": code}, weights={"wiki": 0.7, "code": 0.3}, seed=0)
mixed = interleave_datasets([wiki, code], probabilities=[0.7, 0.3], num_examples=10_000)  # exact quotas
```
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..core.errors import ConfigError, EmptyDatasetError, ShapeMismatchError
from ..core.mixture import MixtureWeights, check_same_domains, largest_remainder, normalize_weights
from ..core.quota_schedule import SmoothWeightedRoundRobin, integer_shares, swrr_order

__all__ = [
    "STOPPING_STRATEGIES",
    "SmoothWeightedRoundRobin",
    "hf_interleave_kwargs",
    "interleave_datasets",
    "swrr_order",
]

logger = logging.getLogger(__name__)

STOPPING_STRATEGIES = ("first_exhausted", "all_exhausted", "all_exhausted_without_replacement")
_ITER_BATCH = 256


# ---------------------------------------------------------------------------------------------- inputs


def _resolve_inputs(
    datasets: Any, probabilities: Any, weights: Any, tokens_per_example: Any
) -> tuple[list[str], list[Any], list[float]]:
    """Names, sources and per-example probabilities (float64, summing to 1) from the user's arguments."""
    if probabilities is not None and weights is not None:
        raise ConfigError("pass either `weights` or `probabilities` (its alias), not both")
    w = weights if weights is not None else probabilities
    if isinstance(datasets, Mapping):
        names = [str(k) for k in datasets]
        sources = list(datasets.values())
    elif isinstance(datasets, Sequence) and not isinstance(datasets, str):
        sources = list(datasets)
        names = [str(i) for i in range(len(sources))]
    else:
        raise ConfigError(f"datasets must be a list or a dict of datasets, got {type(datasets).__name__}")
    if not sources:
        raise ConfigError("interleave_datasets needs at least one dataset")

    if w is None:
        mix = MixtureWeights(dict.fromkeys(names, 1.0), unit="examples")
    elif isinstance(w, MixtureWeights):
        if not isinstance(datasets, Mapping):
            raise ConfigError("MixtureWeights name their domains: pass the datasets as a dict {domain: dataset}")
        mix = w
    elif isinstance(w, Mapping):
        if not isinstance(datasets, Mapping):
            raise ConfigError("weights given as a dict need the datasets as a dict by the same names")
        mix = MixtureWeights(dict(w), unit="examples")
    else:
        seq = list(w)
        if isinstance(datasets, Mapping):
            raise ConfigError("datasets given as a dict need weights as a dict by the same names or a MixtureWeights")
        if len(seq) != len(sources):
            raise ShapeMismatchError(f"{len(seq)} weights for {len(sources)} datasets")
        mix = MixtureWeights(dict(zip(names, seq)), unit="examples")

    check_same_domains(mix.domains, names, "weights", "datasets")
    if mix.unit == "tokens":
        if tokens_per_example is None:
            raise ConfigError(
                "inconsistent units: these MixtureWeights are token shares but the sampler draws examples; pass "
                "tokens_per_example={domain: mean tokens} (see measure_tokens_per_example), or build the weights "
                "with unit='examples' if every example is one fixed-length block"
            )
        if not isinstance(tokens_per_example, Mapping):
            tokens_per_example = dict(zip(names, tokens_per_example))
        mix = mix.to_example_probabilities(tokens_per_example)
    elif tokens_per_example is not None:
        raise ConfigError("tokens_per_example is only used with token-unit MixtureWeights")
    probs = normalize_weights({n: mix[n] for n in names})
    return names, sources, [probs[n] for n in names]


def _drop_zero(names: list[str], sources: list[Any], probs: list[float]) -> tuple[list[str], list[Any], list[float]]:
    zero = [n for n, p in zip(names, probs) if p == 0.0]
    if zero:
        warnings.warn(f"interleave_datasets: skipping zero-weight domain(s) {zero}", stacklevel=3)
        logger.warning("skipping zero-weight domain(s) %s", zero)
    keep = [i for i, p in enumerate(probs) if p > 0.0]
    return [names[i] for i in keep], [sources[i] for i in keep], [probs[i] for i in keep]


# ------------------------------------------------------------------------------------------- main entry


def interleave_datasets(
    datasets: Sequence[Any] | Mapping[str, Any],
    probabilities: Sequence[float] | None = None,
    seed: int | None = None,
    info: Any = None,
    split: Any = None,
    stopping_strategy: str = "first_exhausted",
    *,
    weights: Sequence[float] | Mapping[str, float] | MixtureWeights | None = None,
    tokens_per_example: Mapping[str, float] | Sequence[float] | None = None,
    num_examples: int | None = None,
    num_shards: int | None = None,
    domain_column: str | None = None,
) -> Any:
    """Interleave several datasets with quota-exact domain proportions (drop-in for `datasets.interleave_datasets`).

    Args:
        datasets (`list` or `dict[str, Dataset | IterableDataset]`): the domains, all `Dataset` or all
            `IterableDataset`. A dict names the domains (then `weights` is a dict or a [`MixtureWeights`]).
        probabilities (`list[float]`, *optional*): alias of `weights` for drop-in compatibility.
        seed (`int`, *optional*): seeds the tie-break order of the round-robin; the stream is a deterministic
            function of the inputs and the seed.
        info, split: forwarded to `datasets.concatenate_datasets` (map-style) or used for the output's split.
        stopping_strategy (`str`, *optional*, defaults to `"first_exhausted"`): what happens when a domain runs
            out. `"first_exhausted"`: stop (proportions stay exact to the end). `"all_exhausted"`: restart the
            exhausted domain (repetition) until every domain has been exhausted once. `"all_exhausted_without_
            replacement"`: drop the exhausted domain and continue with the others (every example at most once;
            the tail is then off the weights, a warning says so). With `num_examples`, the run stops after
            exactly that many examples unless a domain runs out first.
        weights (`list`, `dict` or [`MixtureWeights`], *optional*): per-domain weights; plain lists/dicts are
            per-example probabilities, token-unit [`MixtureWeights`] are converted with `tokens_per_example`.
            Zero-weight domains are skipped with a warning. Defaults to uniform.
        tokens_per_example (`dict[str, float]`, *optional*): mean tokens per example per domain, needed for
            token-unit weights.
        num_examples (`int`, *optional*): total examples to deliver as exact per-domain quotas (largest
            remainder). For iterables this is split over the shards.
        num_shards (`int`, *optional*): shards of an iterable result (defaults to the smallest `num_shards` of
            the sources). Use `num_shards >= world_size * num_workers` so every worker on every rank gets data.
        domain_column (`str`, *optional*): if set, add a column with each example's domain name.

    Returns:
        `Dataset` or `IterableDataset`, like the inputs.

    Raises:
        [`ConfigError`] on bad weights or mixed dataset types, [`EmptyDatasetError`] for an empty domain with a
        positive weight, [`ShapeMismatchError`] when the number of weights and datasets differ.
    """
    import datasets as hfds

    if stopping_strategy not in STOPPING_STRATEGIES:
        raise ConfigError(f"stopping_strategy must be one of {STOPPING_STRATEGIES}, got {stopping_strategy!r}")
    if num_examples is not None and int(num_examples) <= 0:
        raise ConfigError(f"num_examples must be positive, got {num_examples}")
    names, sources, probs = _resolve_inputs(datasets, probabilities, weights, tokens_per_example)
    names, sources, probs = _drop_zero(names, sources, probs)
    is_map = [isinstance(s, hfds.Dataset) for s in sources]
    is_iter = [isinstance(s, hfds.IterableDataset) for s in sources]
    if all(is_map):
        return _interleave_map(
            names, sources, probs, seed, info, split, stopping_strategy, num_examples, domain_column
        )
    if all(is_iter):
        return _interleave_iterable(
            names, sources, probs, seed, split, stopping_strategy, num_examples, num_shards, domain_column
        )
    kinds = sorted({type(s).__name__ for s in sources})
    raise ConfigError(f"all datasets must be `Dataset` or all `IterableDataset`, got {kinds}")


# ------------------------------------------------------------------------------------------- map-style


def _map_quotas(
    names: list[str], lengths: list[int], probs: list[float], strategy: str, num_examples: int | None
) -> list[int] | None:
    """Per-domain quotas for a map-style run, or `None` for the without-replacement run (lengths drive it)."""
    if num_examples is not None:
        q = largest_remainder(probs, int(num_examples))
        over = [n for n, qi, li in zip(names, q, lengths) if qi > li]
        if over and strategy != "all_exhausted":
            n = _max_total_fitting(probs, lengths)
            warnings.warn(
                f"interleave_datasets: domain(s) {over} hold fewer examples than their quota; delivering {n} of "
                f"{num_examples} examples ({stopping_strategy_hint(strategy)})",
                stacklevel=4,
            )
            return largest_remainder(probs, n)
        return q
    if strategy == "first_exhausted":
        return largest_remainder(probs, _max_total_fitting(probs, lengths))
    if strategy == "all_exhausted":
        n = max(math.ceil(li / p) for li, p in zip(lengths, probs))
        while True:
            q = largest_remainder(probs, n)
            if all(qi >= li for qi, li in zip(q, lengths)):
                return q
            n += 1
    return None


def stopping_strategy_hint(strategy: str) -> str:
    return f"stopping_strategy={strategy!r}; use 'all_exhausted' to repeat small domains instead"


def _max_total_fitting(probs: list[float], lengths: list[int]) -> int:
    """The largest total whose largest-remainder quotas all fit in the domains."""
    n = int(min(math.floor(li / p) for li, p in zip(lengths, probs)))
    while n > 0 and any(q > li for q, li in zip(largest_remainder(probs, n), lengths)):
        n -= 1
    return n


def _interleave_map(names, sources, probs, seed, info, split, strategy, num_examples, domain_column):
    import datasets as hfds

    lengths = [len(s) for s in sources]
    empty = [n for n, li in zip(names, lengths) if li == 0]
    if empty:
        raise EmptyDatasetError(f"domain(s) {empty} are empty but have a positive weight")
    quotas = _map_quotas(names, lengths, probs, strategy, num_examples)
    if quotas is not None:
        order = swrr_order(quotas, seed=seed)
    else:  # all_exhausted_without_replacement: every example once, in SWRR order while domains last
        sched = SmoothWeightedRoundRobin(integer_shares(probs), seed=seed)
        remaining = list(lengths)
        out = []
        while sched.any_active():
            d = sched.next()
            out.append(d)
            remaining[d] -= 1
            if remaining[d] == 0:
                sched.deactivate(d)
        order = np.asarray(out, dtype=np.int64)
        _warn_tail(names, probs, lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    # the k-th draw of domain d reads row (k mod len_d): repetition only under all_exhausted
    pos = np.zeros(len(order), dtype=np.int64)
    for d in range(len(names)):
        mask = order == d
        pos[mask] = np.arange(int(mask.sum()), dtype=np.int64) % lengths[d]
    indices = offsets[order] + pos
    if domain_column is not None:
        sources = [s.add_column(domain_column, [n] * len(s)) for n, s in zip(names, sources)]
    combined = hfds.concatenate_datasets(sources, info=info, split=split)
    counts = dict(zip(names, np.bincount(order, minlength=len(names)).tolist()))
    logger.info("interleave_datasets: %d examples, per domain %s", len(indices), counts)
    return combined.select(indices)


def _warn_tail(names: list[str], probs: list[float], lengths: list[int]) -> None:
    ratio = [li / p for li, p in zip(lengths, probs)]
    if max(ratio) > 1.05 * min(ratio):
        warnings.warn(
            "interleave_datasets: with all_exhausted_without_replacement the domains run out at different times, so "
            f"the end of the stream is not in the requested proportions (domain sizes {dict(zip(names, lengths))}); "
            "pass num_examples for exact quotas",
            stacklevel=4,
        )


# ------------------------------------------------------------------------------------------- iterable


def _iter_rows(source: Any) -> Iterator[dict[str, Any]]:
    """Rows of a `datasets.IterableDataset`, read with `.iter()`: unlike `iter(ds)` it does not re-split the
    source among DataLoader workers when we already are one (our own shards decide who reads what)."""
    for batch in source.iter(batch_size=_ITER_BATCH):
        keys = list(batch)
        if not keys:
            continue
        n = len(batch[keys[0]])
        for i in range(n):
            yield {k: batch[k][i] for k in keys}


def _source_part(source: Any, num_parts: int, index: int) -> Iterator[dict[str, Any]]:
    """The `index`-th of `num_parts` disjoint parts of a source: whole file shards when they divide evenly,
    else every `num_parts`-th row."""
    if num_parts == 1:
        return _iter_rows(source)
    if source.num_shards % num_parts == 0:
        return _iter_rows(source.shard(num_shards=num_parts, index=index, contiguous=True))
    return (row for k, row in enumerate(_iter_rows(source)) if k % num_parts == index)


class _ShardStreams:
    """The generator behind an interleaved `IterableDataset` (picklable, so DataLoader workers can run it)."""

    def __init__(self, names, sources, probs, seed, strategy, num_examples, num_shards, domain_column):
        self.names, self.sources, self.probs = names, sources, probs
        self.seed, self.strategy, self.num_examples = seed, strategy, num_examples
        self.num_shards, self.domain_column = num_shards, domain_column

    def shard_quotas(self, shard: int) -> list[int] | None:
        if self.num_examples is None:
            return None
        total = largest_remainder(self.probs, int(self.num_examples))
        return [q // self.num_shards + (1 if shard < q % self.num_shards else 0) for q in total]

    def __call__(self, shard_index: list[int]) -> Iterator[dict[str, Any]]:
        for shard in shard_index:
            yield from self._one_shard(int(shard))

    def _one_shard(self, shard: int) -> Iterator[dict[str, Any]]:
        m = len(self.names)
        quotas = self.shard_quotas(shard)
        if quotas is not None and sum(quotas) == 0:
            return
        shares = quotas if quotas is not None else integer_shares(self.probs)
        seed = None if self.seed is None else self.seed + shard
        sched = SmoothWeightedRoundRobin(shares, seed=seed)
        streams = [_source_part(src, self.num_shards, shard) for src in self.sources]
        seen_end = [False] * m
        drawn = [0] * m
        emitted = 0
        limit = sum(quotas) if quotas is not None else None
        while sched.any_active() and (limit is None or emitted < limit):
            d = sched.next()
            try:
                row = next(streams[d])
            except StopIteration:
                if drawn[d] == 0:
                    if self.num_shards > 1:  # this shard's part of the domain is empty: the others may hold data
                        logger.warning("domain %r has no rows in shard %d", self.names[d], shard)
                        sched.deactivate(d)
                        continue
                    raise EmptyDatasetError(f"domain {self.names[d]!r} is empty but has a positive weight") from None
                seen_end[d] = True
                if self.strategy == "first_exhausted":
                    if quotas is not None:
                        logger.warning("domain %r ran out in shard %d before its quota", self.names[d], shard)
                    return
                if self.strategy == "all_exhausted":
                    if all(seen_end[j] or not sched.active[j] for j in range(m)):
                        return
                    streams[d] = _source_part(self.sources[d], self.num_shards, shard)
                    row = next(streams[d])
                else:  # all_exhausted_without_replacement
                    sched.deactivate(d)
                    continue
            drawn[d] += 1
            emitted += 1
            if self.domain_column is not None:
                row = dict(row)
                row[self.domain_column] = self.names[d]
            yield row


def _interleave_iterable(names, sources, probs, seed, split, strategy, num_examples, num_shards, domain_column):
    import datasets as hfds

    k = int(num_shards) if num_shards is not None else max(1, min(int(s.num_shards) for s in sources))
    if k <= 0:
        raise ConfigError(f"num_shards must be positive, got {num_shards}")
    if strategy == "all_exhausted_without_replacement" and num_examples is None:
        warnings.warn(
            "interleave_datasets: with all_exhausted_without_replacement the tail of the stream is not in the "
            "requested proportions once a domain runs out; pass num_examples for exact quotas",
            stacklevel=3,
        )
    features = sources[0].features
    if features is not None and any(s.features != features for s in sources[1:]):
        features = None  # let datasets infer; mismatching schemas surface when rows are read
    if features is not None and domain_column is not None:
        features = hfds.Features({**features, domain_column: hfds.Value("string")})
    gen = _ShardStreams(names, sources, probs, seed, strategy, num_examples, k, domain_column)
    kwargs: dict[str, Any] = {"generator": gen, "gen_kwargs": {"shard_index": list(range(k))}, "features": features}
    if split is not None:
        kwargs["split"] = split
    return hfds.IterableDataset.from_generator(**kwargs)


# ------------------------------------------------------------------------------ adapter to datasets' own sampler


def hf_interleave_kwargs(
    datasets: Sequence[Any] | Mapping[str, Any],
    weights: Sequence[float] | Mapping[str, float] | MixtureWeights | None = None,
    num_examples: int = 0,
    tokens_per_example: Mapping[str, float] | Sequence[float] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Arguments for `datasets.interleave_datasets` that realise exact quotas with the library's own sampler.

    Each source is truncated to its quota (`.select(range(q))` / `.take(q)`; shuffle it beforehand), zero-quota
    and zero-weight sources are dropped, and `probabilities ∝ q` with
    `stopping_strategy="all_exhausted_without_replacement"` (datasets >= 4.6), so the totals are exact and the
    sources end together (spec §8, recommendation 2). The order is i.i.d., not smooth: prefer
    [`interleave_datasets`] when windows of the run must be in proportion.

    Usage:

    ```python
    import datasets
    kwargs = hf_interleave_kwargs({"wiki": wiki, "code": code}, {"wiki": 0.7, "code": 0.3}, num_examples=10_000)
    mixed = datasets.interleave_datasets(**kwargs)
    ```
    """
    import datasets as hfds

    if int(num_examples) <= 0:
        raise ConfigError(f"num_examples must be positive, got {num_examples}")
    names, sources, probs = _resolve_inputs(datasets, None, weights, tokens_per_example)
    names, sources, probs = _drop_zero(names, sources, probs)
    quotas = largest_remainder(probs, int(num_examples))
    kept, kept_q = [], []
    for name, src, q in zip(names, sources, quotas):
        if q == 0:
            continue
        if isinstance(src, hfds.Dataset):
            if len(src) == 0:
                raise EmptyDatasetError(f"domain {name!r} is empty but has a positive weight")
            if q > len(src):
                raise ConfigError(f"domain {name!r} holds {len(src)} examples, fewer than its quota {q}")
            kept.append(src.select(range(q)))
        else:
            kept.append(src.take(q))
        kept_q.append(q)
    total = sum(kept_q)
    return {
        "datasets": kept,
        "probabilities": [q / total for q in kept_q],
        "seed": seed,
        "stopping_strategy": "all_exhausted_without_replacement",
    }
