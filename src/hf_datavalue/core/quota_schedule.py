"""The deterministic quota scheduler: smooth weighted round-robin over integer per-domain shares.

Every step adds each domain's share to its credit, emits the domain with the largest credit and subtracts the
total share from it, so every prefix of the stream holds each domain within about one example of its share and
a run of `sum(q)` steps yields exactly `q_i` examples of domain `i` (specs/autoscale_ddo.md §7-8). DDO/AutoScale's
`interleave_datasets`, Projektor's quotas and DAM's purchases all schedule with it.

Usage:

```python
from hf_datavalue.core.quota_schedule import SmoothWeightedRoundRobin, swrr_order

swrr_order([3, 1])                      # array([0, 0, 1, 0])
s = SmoothWeightedRoundRobin([3, 1]); s.next(); s.state_dict()  # resumable
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, ShapeMismatchError
from .mixture import largest_remainder

__all__ = ["SHARE_SCALE", "SmoothWeightedRoundRobin", "integer_shares", "swrr_order"]

# Integer shares used when the stream length is open-ended: proportions are then exact to 1/SHARE_SCALE.
SHARE_SCALE = 1_000_000


class SmoothWeightedRoundRobin:
    """The deterministic domain scheduler behind [`interleave_datasets`].

    Args:
        shares (`list[int]`): non-negative integer share of each domain (quotas, or weights scaled to integers).
        seed (`int`, *optional*): permutes the tie-break order of the domains; `None` keeps the given order.

    Usage:

    ```python
    s = SmoothWeightedRoundRobin([3, 1])
    [s.next() for _ in range(4)]  # [0, 0, 1, 0]
    state = s.state_dict()        # credits, counts, active domains: plain ints, JSON-able
    ```
    """

    def __init__(self, shares: Sequence[int], seed: int | None = None):
        self.shares = [int(s) for s in shares]
        if any(s < 0 for s in self.shares) or sum(self.shares) <= 0:
            raise ConfigError(f"shares must be non-negative with a positive sum, got {self.shares}")
        m = len(self.shares)
        order = list(range(m)) if seed is None else [int(i) for i in np.random.default_rng(seed).permutation(m)]
        self._priority = order  # tie-break: earlier in this list wins
        self.credits = [0] * m
        self.counts = [0] * m
        self.active = [s > 0 for s in self.shares]

    @property
    def total_share(self) -> int:
        return sum(s for s, a in zip(self.shares, self.active) if a)

    def next(self) -> int:
        """The domain to emit next."""
        best, best_credit = -1, 0
        credits, shares, active = self.credits, self.shares, self.active
        for i in self._priority:
            if active[i]:
                credits[i] += shares[i]
                if best < 0 or credits[i] > best_credit:
                    best, best_credit = i, credits[i]
        if best < 0:
            raise StopIteration
        credits[best] -= self.total_share
        self.counts[best] += 1
        return best

    def deactivate(self, i: int) -> None:
        """Stop emitting domain `i` (its source is exhausted); the others keep their relative shares."""
        if not self.active[i]:
            return
        self.active[i] = False
        self.credits[i] = 0
        n_active = sum(self.active)
        if n_active:  # keep the credits summing to zero over the active domains
            drift = sum(c for c, a in zip(self.credits, self.active) if a)
            for j in range(len(self.credits)):
                if self.active[j]:
                    self.credits[j] -= drift // n_active
            drift = sum(c for c, a in zip(self.credits, self.active) if a)
            first = next(j for j in self._priority if self.active[j])
            self.credits[first] -= drift

    def any_active(self) -> bool:
        return any(self.active)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler state (credits, per-domain counts, active flags)."""
        return {"credits": list(self.credits), "counts": list(self.counts), "active": list(self.active)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state from [`state_dict`]."""
        if len(state["credits"]) != len(self.shares):
            raise ShapeMismatchError(f"state has {len(state['credits'])} domains, the scheduler {len(self.shares)}")
        self.credits = [int(c) for c in state["credits"]]
        self.counts = [int(c) for c in state["counts"]]
        self.active = [bool(a) for a in state["active"]]


def swrr_order(quotas: Sequence[int], seed: int | None = None) -> np.ndarray:
    """The domain id of each of the `Σq` steps of a quota run: domain i appears exactly `q_i` times.

    Every prefix of length t holds each domain within about one of `q_i * t / Σq` (spec §8, bounded by 2).
    """
    s = SmoothWeightedRoundRobin(quotas, seed=seed)
    total = sum(s.shares)
    return np.fromiter((s.next() for _ in range(total)), dtype=np.int64, count=total)


def integer_shares(probs: Sequence[float]) -> list[int]:
    """Probabilities as integer shares summing to about [`SHARE_SCALE`]; a positive weight never rounds to 0."""
    shares = largest_remainder(probs, SHARE_SCALE)
    # a tiny positive weight must not round to a zero share (that domain would silently vanish)
    return [max(s, 1) for s in shares]
