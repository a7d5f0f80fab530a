"""Domain mixtures: DDO and AutoScale weights, and the quota-exact `interleave_datasets` that trains on them.

See `docs/mixing.md` and `specs/autoscale_ddo.md`.
"""

from __future__ import annotations

from .sampler import interleave_datasets
from .weights import MixtureWeights

__all__ = ["MixtureWeights", "interleave_datasets"]
