"""The method contract: every method package registers one [`MethodSpec`] from its `__init__`.

peft's `register_peft_method` pattern: the facts about a method (name, config class, entry point, result class,
score semantics, Hub card note, CLI sub-command, public names) live in one call beside the method, and the
CLI's command list, the Hub card notes and the top-level lazy exports read them from here.

Usage:

```python
from hf_datavalue import METHODS, get_method

spec = get_method("lava")
config = spec.config_class.from_json('{"embedding_column": "embedding"}')
result = spec.entry_point(config).compute(train, valid)   # a MethodResult: provenance, to_dataset, save/load
sorted(METHODS)  # ['autoscale', 'dam', 'ddo', 'fasttrack', 'forward_inf', 'gotd', 'lava', 'projektor']
```

A new method calls [`register_method`] at the bottom of its package `__init__` and adds its package name to
[`METHOD_PACKAGES`]; the contract test matrix (`tests/test_method_contract.py`) then covers it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigError

__all__ = [
    "METHODS",
    "METHOD_PACKAGES",
    "MethodResult",
    "MethodSpec",
    "get_method",
    "register_method",
    "result_provenance",
]

# Packages under hf_datavalue that register methods; importing each one fills the registry.
METHOD_PACKAGES: tuple[str, ...] = ("lava", "gotd", "mixing", "attribution", "fasttrack", "projektor", "dam")


@runtime_checkable
class MethodResult(Protocol):
    """What every method returns: provenance, a `datasets.Dataset` view, and an explicit save/load pair.

    `push_values` accepts any object with this shape.
    """

    @property
    def provenance(self) -> Any:  # a ValueProvenance
        ...

    def to_dataset(self) -> Any: ...

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path: ...

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> Any: ...


@dataclass(frozen=True)
class MethodSpec:
    """Everything the library needs to know about one method.

    Args:
        name (`str`): the method name, also the `method` tag of its config JSON (`"lava"`).
        config_class (`type`): its [`JsonConfig`] dataclass; constructs with defaults.
        entry_point (`Any`): the runtime class or function (`LavaValuer`).
        result_class (`type`): the [`MethodResult`] class it returns.
        score_column (`str`): the value column of its table (`"lava_value"`).
        score_semantics (`str`): how to read the scores (`"higher = more harmful"`).
        card_title (`str`): the method as named on a Hub card (paper and venue).
        card_note (`str`): what a value means, one sentence for the Hub card.
        hub_config (`str`, *optional*): the default Hub config name of its value table; defaults to `name`.
        cli_command (`str`, *optional*): its `hf-datavalue` sub-command module under `hf_datavalue.commands`.
        exports (`tuple[str, ...]`): public names of its package that the top level re-exports lazily.
        module (`str`): the package that registered it.
    """

    name: str
    config_class: type
    entry_point: Any
    result_class: type
    score_column: str
    score_semantics: str
    card_title: str
    card_note: str
    module: str
    hub_config: str = ""
    cli_command: str | None = None
    exports: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.hub_config:
            object.__setattr__(self, "hub_config", self.name)

    @property
    def runtime(self) -> Any:
        """Alias of `entry_point` (the name used before the contract)."""
        return self.entry_point


_REGISTRY: dict[str, MethodSpec] = {}
_LOADED = False


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add `spec` to the registry (idempotent for a re-import of the same package)."""
    known = _REGISTRY.get(spec.name)
    if known is not None and known.module != spec.module:
        raise ConfigError(f"method {spec.name!r} is registered twice ({known.module} and {spec.module})")
    tag = getattr(spec.config_class, "method", None)
    if tag != spec.name:
        raise ConfigError(
            f"{spec.config_class.__name__}.method is {tag!r}; it must equal the method name {spec.name!r}"
        )
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    for package in METHOD_PACKAGES:
        importlib.import_module(f"hf_datavalue.{package}")
    _LOADED = True


class _Registry(Mapping[str, MethodSpec]):
    """Read-only name -> [`MethodSpec`] view that imports every method package on first use."""

    def __getitem__(self, name: str) -> MethodSpec:
        _load_all()
        return _REGISTRY[name]

    def __iter__(self) -> Iterator[str]:
        _load_all()
        return iter(sorted(_REGISTRY))

    def __len__(self) -> int:
        _load_all()
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"METHODS({sorted(self)})"


METHODS: Mapping[str, MethodSpec] = _Registry()


def get_method(name: str) -> MethodSpec:
    """The [`MethodSpec`] of `name`; raises [`ConfigError`] listing the known methods."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; known methods: {sorted(METHODS)}") from None


def result_provenance(result: Any) -> Any:
    """The [`~hf_datavalue.core.provenance.ValueProvenance`] of any method result.

    Per-example results carry it as `provenance`; mixture results (whose `provenance` is the dict of how the
    weights were made) give it through `value_provenance()`.
    """
    from .provenance import ValueProvenance

    prov = getattr(result, "provenance", None)
    if isinstance(prov, ValueProvenance):
        return prov
    if hasattr(result, "value_provenance"):
        return result.value_provenance()
    raise ConfigError(f"{type(result).__name__} does not follow the method contract (no ValueProvenance)")
