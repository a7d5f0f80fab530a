"""LAVA: data values from a class-wise optimal-transport distance to a clean validation set.

Higher `lava_value` = more harmful. See [`LavaValuer`] and `specs/lava.md`.
"""

from ..core.registry import MethodSpec, register_method
from .baselines import knn_label_disagreement, probe_loss_scores
from .config import LavaConfig
from .plots import plot_value_histogram
from .valuation import SCORE_COLUMN, SCORE_SEMANTICS, LavaResult, LavaValuer, compute_lava_values

__all__ = [
    "SCORE_COLUMN",
    "SCORE_SEMANTICS",
    "LavaConfig",
    "LavaResult",
    "LavaValuer",
    "compute_lava_values",
    "knn_label_disagreement",
    "plot_value_histogram",
    "probe_loss_scores",
]

register_method(
    MethodSpec(
        name="lava",
        config_class=LavaConfig,
        entry_point=LavaValuer,
        result_class=LavaResult,
        score_column=SCORE_COLUMN,
        score_semantics=SCORE_SEMANTICS,
        card_title="LAVA (Just et al., ICLR 2023)",
        card_note=(
            "the calibrated gradient of the class-wise optimal-transport distance between the training set and a "
            "clean validation set with respect to each training point's mass. Large values flag likely mislabelled, "
            "noisy or off-distribution rows; the values of a table sum to zero"
        ),
        module=__name__,
        cli_command="lava",
        exports=("LavaConfig", "LavaResult", "LavaValuer", "compute_lava_values"),
    )
)
