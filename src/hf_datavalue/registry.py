"""Method registry: each method's name maps to its config class and its runtime entry point.

Usage:

```python
from hf_datavalue import get_method

spec = get_method("lava")
config = spec.config_class.from_json('{"feature_column": "embedding"}')
runner = spec.runtime  # LavaValuer
```
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .core.errors import ConfigError

__all__ = ["METHODS", "MethodSpec", "get_method"]


@dataclass(frozen=True)
class MethodSpec:
    """Where a method lives: module, config class name, runtime name, and its value-table config on the Hub."""

    name: str
    module: str
    config: str
    runtime_name: str
    hub_config: str
    score_semantics: str

    @property
    def config_class(self) -> Any:
        return getattr(importlib.import_module(self.module), self.config)

    @property
    def runtime(self) -> Any:
        return getattr(importlib.import_module(self.module), self.runtime_name)


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec("lava", "hf_datavalue.lava", "LavaConfig", "LavaValuer", "lava", "higher = more harmful"),
        MethodSpec("gotd", "hf_datavalue.gotd", "GotdConfig", "GotdSelector", "gotd", "lower = select first"),
        MethodSpec("ddo", "hf_datavalue.mixing", "DDOConfig", "DDO", "ddo_weights", "per-token domain weights"),
        MethodSpec(
            "autoscale",
            "hf_datavalue.mixing",
            "AutoScaleConfig",
            "AutoScale",
            "autoscale_weights",
            "per-token weights",
        ),
        MethodSpec(
            "forward_inf",
            "hf_datavalue.attribution",
            "ForwardInfConfig",
            "forward_inf_scores",
            "forward_inf",
            "positive = proponent",
        ),
    )
}


def get_method(name: str) -> MethodSpec:
    """The [`MethodSpec`] of `name`; raises [`ConfigError`] listing the known methods."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; known methods: {sorted(METHODS)}") from None
