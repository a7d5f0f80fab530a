"""JSON round-trip for the attribution config dataclasses."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from ..core.errors import ConfigError

T = TypeVar("T", bound="JSONConfigMixin")


class JSONConfigMixin:
    """`to_dict` / `from_dict` / `to_json_string` / `from_json_file` for a dataclass config."""

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # type: ignore[call-overload]

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(self.to_json_string(), encoding="utf-8")

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(names)}")
        return cls(**data)

    @classmethod
    def from_json_file(cls: type[T], path: str | os.PathLike[str]) -> T:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
