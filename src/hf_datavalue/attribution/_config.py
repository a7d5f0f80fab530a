"""JSON round-trip for the attribution config dataclasses: the shared [`JsonConfig`] plus file helpers."""

from __future__ import annotations

import os
from typing import TypeVar

from ..core.config import JsonConfig

T = TypeVar("T", bound="JSONConfigMixin")


class JSONConfigMixin(JsonConfig):
    """[`~hf_datavalue.core.config.JsonConfig`] with the `to_json_string`/`to_json_file`/`from_json_file` names."""

    def to_json_string(self) -> str:
        return self.to_json() + "\n"

    def to_json_file(self, path: str | os.PathLike[str]) -> None:
        self.save(path)

    @classmethod
    def from_json_file(cls: type[T], path: str | os.PathLike[str]) -> T:
        return cls.load(path)
