"""hf_datavalue: data valuation and data selection methods as drop-in HuggingFace pieces.

```python
from hf_datavalue import LavaConfig, LavaValuer

train = LavaValuer(LavaConfig(feature_column="embedding")).add_values(train, valid)  # + lava_value column
```

Names are imported lazily (PEP 562), so `import hf_datavalue` stays cheap and never pulls optional
dependencies; each public name lives in exactly one method or adapter module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    # LAVA
    "LavaConfig": "hf_datavalue.lava",
    "LavaResult": "hf_datavalue.lava",
    "LavaValuer": "hf_datavalue.lava",
    "compute_lava_values": "hf_datavalue.lava",
    # GOT-D
    "GotdConfig": "hf_datavalue.gotd",
    "GotdSelector": "hf_datavalue.gotd",
    # DDO / AutoScale and the quota sampler
    "AutoScale": "hf_datavalue.mixing",
    "AutoScaleConfig": "hf_datavalue.mixing",
    "DDO": "hf_datavalue.mixing",
    "DDOConfig": "hf_datavalue.mixing",
    "DDORunner": "hf_datavalue.mixing",
    "LossTable": "hf_datavalue.mixing",
    "MixtureWeights": "hf_datavalue.mixing",
    "interleave_datasets": "hf_datavalue.mixing",
    # attribution
    "AttributionResult": "hf_datavalue.attribution",
    "ForwardInfConfig": "hf_datavalue.attribution",
    "GradDotConfig": "hf_datavalue.attribution",
    "SelfLossConfig": "hf_datavalue.attribution",
    "forward_inf_scores": "hf_datavalue.attribution",
    "grad_dot_scores": "hf_datavalue.attribution",
    "self_loss_scores": "hf_datavalue.attribution",
    # Projektor
    "ProjektorConfig": "hf_datavalue.projektor",
    "ProjektorPredictor": "hf_datavalue.projektor",
    "ProjektorResult": "hf_datavalue.projektor",
    "ProjektorSelector": "hf_datavalue.projektor",
    "ot_only_selection": "hf_datavalue.projektor",
    # HF adapters
    "ForwardInfCallback": "hf_datavalue.trainer_callbacks",
    "ScoringCallback": "hf_datavalue.trainer_callbacks",
    "HubValues": "hf_datavalue.hub_cards",
    "PushResult": "hf_datavalue.hub_cards",
    "attach_values": "hf_datavalue.hub_cards",
    "load_values": "hf_datavalue.hub_cards",
    "push_values": "hf_datavalue.hub_cards",
    # shared
    "ValueProvenance": "hf_datavalue.core.provenance",
    "DataValueError": "hf_datavalue.core.errors",
    "METHODS": "hf_datavalue.registry",
    "get_method": "hf_datavalue.registry",
}

__all__ = [
    "__version__",
    "AttributionResult",
    "AutoScale",
    "AutoScaleConfig",
    "DDO",
    "DDOConfig",
    "DDORunner",
    "DataValueError",
    "ForwardInfCallback",
    "ForwardInfConfig",
    "GotdConfig",
    "GotdSelector",
    "GradDotConfig",
    "HubValues",
    "LavaConfig",
    "LavaResult",
    "LavaValuer",
    "LossTable",
    "METHODS",
    "MixtureWeights",
    "ProjektorConfig",
    "ProjektorPredictor",
    "ProjektorResult",
    "ProjektorSelector",
    "PushResult",
    "ScoringCallback",
    "SelfLossConfig",
    "ValueProvenance",
    "attach_values",
    "compute_lava_values",
    "forward_inf_scores",
    "get_method",
    "grad_dot_scores",
    "interleave_datasets",
    "load_values",
    "ot_only_selection",
    "push_values",
    "self_loss_scores",
]

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from .attribution import (
        AttributionResult,
        ForwardInfConfig,
        GradDotConfig,
        SelfLossConfig,
        forward_inf_scores,
        grad_dot_scores,
        self_loss_scores,
    )
    from .core.errors import DataValueError
    from .core.provenance import ValueProvenance
    from .gotd import GotdConfig, GotdSelector
    from .hub_cards import HubValues, PushResult, attach_values, load_values, push_values
    from .lava import LavaConfig, LavaResult, LavaValuer, compute_lava_values
    from .mixing import (
        DDO,
        AutoScale,
        AutoScaleConfig,
        DDOConfig,
        DDORunner,
        LossTable,
        MixtureWeights,
        interleave_datasets,
    )
    from .projektor import (
        ProjektorConfig,
        ProjektorPredictor,
        ProjektorResult,
        ProjektorSelector,
        ot_only_selection,
    )
    from .registry import METHODS, get_method
    from .trainer_callbacks import ForwardInfCallback, ScoringCallback


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hf_datavalue' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
