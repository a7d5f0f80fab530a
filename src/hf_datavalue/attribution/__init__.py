"""Training-data attribution: Forward-INF and its mandatory baselines (self-loss, grad-dot).

Usage:

```python
from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores

result = forward_inf_scores(model, train_ds, test_ds, ForwardInfConfig(mode="group"))
harm = -result.scores[:, 0]  # group mode: higher = more likely mislabeled
```
"""

from ..core.registry import MethodSpec, register_method
from .baselines import GradDotConfig, SelfLossConfig, grad_dot_scores, self_loss_scores
from .forward_inf import ForwardInfConfig, forward_inf_scores
from .result import AttributionResult

__all__ = [
    "AttributionResult",
    "ForwardInfConfig",
    "GradDotConfig",
    "SelfLossConfig",
    "forward_inf_scores",
    "grad_dot_scores",
    "self_loss_scores",
]

register_method(
    MethodSpec(
        name="forward_inf",
        config_class=ForwardInfConfig,
        entry_point=forward_inf_scores,
        result_class=AttributionResult,
        score_column="score",
        score_semantics="positive = proponent",
        card_title="Forward-INF (Ko et al., CVPR 2024)",
        card_note=(
            "the change in a query's loss after a forward-only update on the training row; positive values are "
            "proponents"
        ),
        module=__name__,
        cli_command="attribute",
        exports=(
            "AttributionResult",
            "ForwardInfConfig",
            "GradDotConfig",
            "SelfLossConfig",
            "forward_inf_scores",
            "grad_dot_scores",
            "self_loss_scores",
        ),
    )
)
