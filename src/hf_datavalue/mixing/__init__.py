"""Domain mixtures: DDO and AutoScale weights, and the quota-exact `interleave_datasets` that trains on them.

See `docs/mixing.md` and `specs/autoscale_ddo.md`.
"""

from __future__ import annotations

from ..core.mixture import MixtureWeights, measure_tokens_per_example
from ..core.registry import MethodSpec, register_method
from .autoscale import AutoScale, AutoScaleConfig
from .ddo import DDO, DDOConfig, LossTable, PerturbationRun, fit_domain_law, perturbation_plan, solve_mixture
from .sampler import interleave_datasets

__all__ = [
    "DDO",
    "AutoScale",
    "AutoScaleConfig",
    "DDOConfig",
    "LossTable",
    "MixtureWeights",
    "PerturbationRun",
    "fit_domain_law",
    "interleave_datasets",
    "measure_tokens_per_example",
    "perturbation_plan",
    "solve_mixture",
]

register_method(
    MethodSpec(
        name="ddo",
        config_class=DDOConfig,
        entry_point=DDO,
        result_class=MixtureWeights,
        score_column="weight",
        score_semantics="per-token domain weights",
        card_title="DDO (Kang et al., COLM 2025)",
        card_note="the compute-optimal share of each domain at the fitted budget (weights sum to one)",
        module=__name__,
        hub_config="ddo_weights",
        cli_command="mix",
        exports=("DDO", "DDOConfig", "LossTable", "MixtureWeights", "interleave_datasets"),
    )
)
register_method(
    MethodSpec(
        name="autoscale",
        config_class=AutoScaleConfig,
        entry_point=AutoScale,
        result_class=MixtureWeights,
        score_column="weight",
        score_semantics="per-token weights",
        card_title="AutoScale (Kang et al., COLM 2025)",
        card_note="the predicted compute-optimal share of each domain at the requested budget",
        module=__name__,
        hub_config="autoscale_weights",
        cli_command="mix",
        exports=("AutoScale", "AutoScaleConfig"),
    )
)
