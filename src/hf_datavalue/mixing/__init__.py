"""Domain mixtures: DDO and AutoScale weights, and the quota-exact `interleave_datasets` that trains on them.

See `docs/mixing.md` and `specs/autoscale_ddo.md`.
"""

from __future__ import annotations

from .autoscale import AutoScale, AutoScaleConfig
from .ddo import DDO, DDOConfig, LossTable, PerturbationRun, fit_domain_law, perturbation_plan, solve_mixture
from .runner import DDORunner
from .sampler import interleave_datasets
from .weights import MixtureWeights, measure_tokens_per_example

__all__ = [
    "DDO",
    "AutoScale",
    "AutoScaleConfig",
    "DDOConfig",
    "DDORunner",
    "LossTable",
    "MixtureWeights",
    "PerturbationRun",
    "fit_domain_law",
    "interleave_datasets",
    "measure_tokens_per_example",
    "perturbation_plan",
    "solve_mixture",
]
