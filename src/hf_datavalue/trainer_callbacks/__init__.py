"""HF Trainer callbacks: the scoring infrastructure and the method callbacks built on it.

Usage:

```python
from hf_datavalue.trainer_callbacks import ForwardInfCallback

trainer.add_callback(ForwardInfCallback(test_ds, trainer=trainer))
```
"""

from .base import ScoringCallback
from .forward_inf import ForwardInfCallback

__all__ = ["ForwardInfCallback", "ScoringCallback"]
