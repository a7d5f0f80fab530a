"""HF Trainer callbacks: the scoring infrastructure and the method callbacks built on it.

Usage:

```python
from hf_datavalue.trainer_callbacks import ForwardInfCallback

trainer.add_callback(ForwardInfCallback(test_ds, trainer=trainer))
trainer.add_callback(FastTrackCallback(queries, verifier="cross-encoder:outputs/verifier", embedder=minilm_path))
```
"""

from .base import ScoringCallback
from .fasttrack import FastTrackCallback
from .forward_inf import ForwardInfCallback

__all__ = ["FastTrackCallback", "ForwardInfCallback", "ScoringCallback"]
