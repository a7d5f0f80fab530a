"""A JSON round-trip base for the dataclass configs of every method (peft/kronfluence style).

Usage:

```python
from dataclasses import dataclass, field
from hf_datavalue.core.config import JsonConfig

@dataclass
class MyConfig(JsonConfig):
    eps: float = field(default=0.1, metadata={"help": "entropic regularisation"})

assert MyConfig.from_json(MyConfig(eps=0.5).to_json()) == MyConfig(eps=0.5)
```
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .io import write_json_atomic

__all__ = ["JsonConfig"]

T = TypeVar("T", bound="JsonConfig")


class JsonConfig:
    """Mixin for dataclass configs: `to_dict`/`from_dict`, `to_json`/`from_json`, `save`/`load`."""

    def to_dict(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Build from a dict; unknown keys raise [`ConfigError`] naming them (typos must not pass silently)."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} fields {unknown}; valid fields: {sorted(names)}")
        return cls(**data)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls: type[T], path: str | os.PathLike[str]) -> T:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
