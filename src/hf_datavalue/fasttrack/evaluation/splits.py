"""Query splits: a dev split stratified by relation (every threshold is tuned on it) and a relation split
(the verifier trains on some relations and is reported on the others).

Usage:

```python
from hf_datavalue.fasttrack.evaluation.splits import relation_split, stratified_dev_split

dev, test = stratified_dev_split(queries["predicate_id"], dev_fraction=0.2, seed=0)
train_rel, eval_rel = relation_split(queries["predicate_id"], eval_fraction=0.5, seed=0)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.errors import ConfigError

__all__ = ["relation_split", "stratified_dev_split"]


def stratified_dev_split(
    strata: Sequence[Any], dev_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions `(dev, test)`: `round(dev_fraction * n_s)` seeded rows of every stratum go to dev."""
    if not 0.0 < dev_fraction < 1.0:
        raise ConfigError(f"dev_fraction must lie in (0, 1), got {dev_fraction}")
    labels = np.asarray([str(s) for s in strata])
    rng = np.random.default_rng(seed)
    dev: list[int] = []
    for s in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == s)
        n_dev = int(round(dev_fraction * len(idx)))
        dev += rng.permutation(idx)[:n_dev].tolist()
    dev_arr = np.sort(np.asarray(dev, dtype=np.int64))
    test = np.setdiff1d(np.arange(len(labels)), dev_arr)
    return dev_arr, test


def relation_split(relations: Sequence[Any], eval_fraction: float = 0.5, seed: int = 0) -> tuple[list[str], list[str]]:
    """Relations `(train, eval)`: a seeded `eval_fraction` of the distinct relations is held out."""
    names = sorted({str(r) for r in relations})
    if eval_fraction <= 0.0:
        return names, []
    if len(names) < 2 or eval_fraction >= 1.0:
        raise ConfigError(f"a relation split needs >= 2 relations and eval_fraction < 1 (got {len(names)})")
    n_eval = min(len(names) - 1, max(1, int(round(eval_fraction * len(names)))))
    held = set(np.random.default_rng(seed).permutation(names)[:n_eval].tolist())
    return [r for r in names if r not in held], [r for r in names if r in held]
