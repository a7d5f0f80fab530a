"""Command-line flags generated from a config dataclass, as `transformers.HfArgumentParser` does.

Each field becomes `--field-name` with its type, its choices (for `Literal` fields) and its `metadata["help"]`
text, so a flag's help can never drift from the config it sets. Every generated flag defaults to `None` ("not
given"), so a `--config` file's values are overridden only by the flags actually passed.

Usage:

```python
import argparse
from hf_datavalue.commands._args import add_config_arguments, config_from_args
from hf_datavalue.lava import LavaConfig

parser = argparse.ArgumentParser()
add_config_arguments(parser, LavaConfig, exclude={"text_column", "embedding_column"})
args = parser.parse_args(["--eps", "0.05", "--no-allow-missing-classes"])
config = config_from_args(LavaConfig, args)        # LavaConfig(eps=0.05, allow_missing_classes=False, ...)
```
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Collection, Mapping
from typing import Any, Literal, Union

from ..core.errors import ConfigError

__all__ = ["add_config_arguments", "config_fields", "config_from_args", "config_help"]


def config_fields(config_class: type, exclude: Collection[str] = ()) -> list[dataclasses.Field[Any]]:
    """The dataclass fields of `config_class` that become flags (not excluded, not private)."""
    return [
        f for f in dataclasses.fields(config_class) if f.name not in exclude and not f.name.startswith("_") and f.init
    ]


def config_help(config_class: type, name: str) -> str:
    """The `metadata["help"]` of field `name` of `config_class`, with its default."""
    for f in dataclasses.fields(config_class):
        if f.name == name:
            return _help_text(f)
    raise KeyError(f"{config_class.__name__} has no field {name!r}")


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _help_text(f: dataclasses.Field[Any]) -> str:
    text = str(f.metadata.get("help", "")).strip() or f.name.replace("_", " ")
    default = _default(f)
    if default is None or default == {} or default == []:
        return text
    return f"{text} (default: {default})".replace("%", "%%")


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"expected JSON, got {text!r} ({err.msg})") from None


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    config_class: type,
    exclude: Collection[str] = (),
    rename: Mapping[str, str] | None = None,
) -> list[str]:
    """Add one flag per field of the dataclass `config_class`; returns the field names added.

    Args:
        parser (`argparse.ArgumentParser` or argument group): where to add the flags.
        config_class (`type`): a dataclass whose fields carry `metadata={"help": ...}`.
        exclude (`Collection[str]`, *optional*): fields that get no flag (the command sets them itself).
        rename (`dict[str, str]`, *optional*): field -> flag name (without `--`) where the flag reads better.

    Types: `bool` gives `--name/--no-name`; `Literal[...]` gives choices; `int`, `float` and `str` parse as such;
    `list[...]` takes one or more values; `dict` fields take a JSON object.
    """
    hints = typing.get_type_hints(config_class)
    added = []
    for f in config_fields(config_class, exclude):
        flag = "--" + (rename or {}).get(f.name, f.name).replace("_", "-")
        tp = _strip_optional(hints.get(f.name, str))
        origin = typing.get_origin(tp)
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": _help_text(f)}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            choices = list(typing.get_args(tp))
            kwargs["choices"] = choices
            kwargs["type"] = type(choices[0]) if choices else str
        elif origin in (list, tuple) or tp in (list, tuple):
            inner = typing.get_args(tp)
            kwargs["nargs"] = "+"
            kwargs["type"] = _number(inner[0]) if inner and inner[0] in (int, float) else str
        elif origin is dict or tp is dict:
            kwargs["type"] = _json_value
            kwargs["metavar"] = "JSON"
        elif tp in (int, float):
            kwargs["type"] = _number(tp)
        else:
            kwargs["type"] = str
        parser.add_argument(flag, **kwargs)
        added.append(f.name)
    return added


def config_from_args(
    config_class: type, args: argparse.Namespace, base: Mapping[str, Any] | None = None, **overrides: Any
) -> Any:
    """Build `config_class` from `base` (e.g. a `--config` file's dict), the flags given on the command line and
    `overrides`, in that order of precedence (last wins). Flags left unset (`None`) do not override.

    Raises:
        [`ConfigError`]: unknown fields or invalid values (from the config's own checks).
    """
    data = dict(base or {})
    for f in dataclasses.fields(config_class):
        value = getattr(args, f.name, None)
        if value is not None:
            data[f.name] = list(value) if isinstance(value, tuple) else value
    data.update(overrides)
    from_dict = getattr(config_class, "from_dict", None)
    if from_dict is not None:
        return from_dict(data)
    try:
        return config_class(**data)
    except TypeError as err:
        raise ConfigError(f"{config_class.__name__}: {err}") from None
