"""Training-data attribution: Forward-INF and its mandatory baselines (self-loss, grad-dot).

Usage:

```python
from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores

result = forward_inf_scores(model, train_ds, test_ds, ForwardInfConfig(mode="group"))
harm = -result.scores[:, 0]  # group mode: higher = more likely mislabeled
```
"""

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
