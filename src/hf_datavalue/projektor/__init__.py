"""Projektor: OT-based performance prediction from partial source samples, and source selection.

Kang, Just, Sahu, Jia, "Performance Scaling via Optimal Transport: Enabling Data Selection from Partially Revealed
Sources", NeurIPS 2023. See `specs/projektor.md`: [`MixtureOT`] (OT of a mixture), [`ProjektorPredictor`]
(stage 1 PQ-OT + stage 2 ln-N projection), [`ProjektorSelector`] / [`ot_only_selection`] (projected gradient on
the simplex) returning [`~hf_datavalue.core.mixture.MixtureWeights`].
"""

from ..core.registry import MethodSpec, register_method
from .config import ProjektorConfig
from .ot_mixture import MixtureEvaluation, MixtureOT, source_gradient
from .predictor import ProjektorPredictor, Stage1Fit, design_matrix, fit_stage1
from .result import SCORE_COLUMN, SCORE_SEMANTICS, ProjektorResult
from .selection import ProjektorSelection, ProjektorSelector, ot_only_selection
from .simplex import check_mixture, project_simplex, simplex_grid

__all__ = [
    "MixtureEvaluation",
    "MixtureOT",
    "ProjektorConfig",
    "ProjektorPredictor",
    "ProjektorResult",
    "ProjektorSelection",
    "ProjektorSelector",
    "Stage1Fit",
    "check_mixture",
    "design_matrix",
    "fit_stage1",
    "ot_only_selection",
    "project_simplex",
    "simplex_grid",
    "source_gradient",
]

register_method(
    MethodSpec(
        name="projektor",
        config_class=ProjektorConfig,
        entry_point=ProjektorSelector,
        result_class=ProjektorResult,
        score_column=SCORE_COLUMN,
        score_semantics=SCORE_SEMANTICS,
        card_title="Projektor (Kang et al., NeurIPS 2023)",
        card_note=(
            "the share of each data source in the mixture that the OT-based performance predictor projects to "
            "perform best at the target size (or that minimises the class-wise OT distance to the validation set)"
        ),
        module=__name__,
        hub_config="projektor_weights",
        cli_command="project",
        exports=("ProjektorConfig", "ProjektorPredictor", "ProjektorResult", "ProjektorSelector", "ot_only_selection"),
    )
)
