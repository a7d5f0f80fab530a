"""One config system for every method: a JSON base with a method tag, and shared argument blocks.

* [`JsonConfig`]: `to_dict`/`from_dict`, `to_json`/`from_json`, `save`/`load`. The JSON carries a `"method"` tag,
  so [`load_config`] gives a saved config back as its own class. Unknown keys and non-finite numbers raise
  [`ConfigError`] (a typo or a `nan` must never pass silently).
* [`OTArguments`] and [`EmbedderArguments`]: the Sinkhorn and embedder knobs under one set of names, mixed into
  the configs of the methods that use them (dataclass inheritance keeps the fields flat, so
  `transformers.HfArgumentParser` turns them into CLI flags).
* One column vocabulary: `text_column`, `embedding_column`, `label_column`, `id_column`.

Usage:

```python
from dataclasses import dataclass, field
from hf_datavalue.core.config import JsonConfig, OTArguments, load_config

@dataclass
class MyConfig(OTArguments, JsonConfig):
    method = "my_method"
    k: int = field(default=10, metadata={"help": "rows to keep"})

assert MyConfig.from_json(MyConfig(eps=0.5).to_json()) == MyConfig(eps=0.5)
```
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from .errors import ConfigError
from .io import write_json_atomic

__all__ = ["EmbedderArguments", "JsonConfig", "OTArguments", "check_finite_fields", "load_config", "read_json_arg"]

T = TypeVar("T", bound="JsonConfig")

METHOD_KEY = "method"


def check_finite_fields(config: Any) -> None:
    """Raise [`ConfigError`] naming every float field of a dataclass that is NaN or infinite."""
    bad = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(f"{f.name}={value}")
        elif isinstance(value, (list, tuple, dict)):
            items = value.values() if isinstance(value, dict) else value
            if any(isinstance(v, float) and not math.isfinite(v) for v in items):
                bad.append(f"{f.name}={value}")
    if bad:
        raise ConfigError(f"{type(config).__name__} needs finite numbers; got {', '.join(bad)}")


class JsonConfig:
    """Base of every method config: JSON round trip with a `"method"` tag, finite-number check.

    Subclasses are dataclasses that set the class attribute `method` (the registered method name). A
    subclass that defines `__post_init__` calls `super().__post_init__()` first.
    """

    method: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_finite_fields(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field, plus the `"method"` tag when the class has one."""
        assert dataclasses.is_dataclass(self)
        data = json.loads(json.dumps(dataclasses.asdict(self)))
        if self.method:
            data = {METHOD_KEY: self.method, **data}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Build from a dict; unknown keys or another method's tag raise [`ConfigError`] naming them."""
        data = dict(data)
        tag = data.pop(METHOD_KEY, None)
        if tag is not None and cls.method and tag != cls.method:
            raise ConfigError(f"this is a {tag!r} config, not a {cls.method!r} one ({cls.__name__})")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} fields {unknown}; valid fields: {sorted(names)}")
        try:
            return cls(**data)
        except TypeError as err:  # a required field is missing
            raise ConfigError(f"{cls.__name__}: {err}") from None

    @classmethod
    def from_json(cls: type[T], text_or_path: str | os.PathLike[str]) -> T:
        """Build from a JSON string or the path of a JSON file."""
        return cls.from_dict(read_json_arg(text_or_path))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the JSON atomically (a killed write never leaves a half file)."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls: type[T], path: str | os.PathLike[str]) -> T:
        return cls.from_json(Path(path))


def read_json_arg(text_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The dict of a JSON object given as text (starting with `{`) or as a file path (a `ConfigError` otherwise)."""
    text = str(text_or_path)
    source = "JSON text"
    if isinstance(text_or_path, os.PathLike) or not text.lstrip().startswith("{"):
        path = Path(text_or_path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        source, text = str(path), path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{source} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a JSON object, got {type(data).__name__}")
    return data


def load_config(text_path_or_dict: str | os.PathLike[str] | dict[str, Any]) -> JsonConfig:
    """A saved config back as its own class, dispatched on its `"method"` tag through the method registry."""
    from .registry import get_method

    data = dict(text_path_or_dict) if isinstance(text_path_or_dict, dict) else read_json_arg(text_path_or_dict)
    tag = data.get(METHOD_KEY)
    if not tag:
        raise ConfigError('the config has no "method" tag; load it with its own class (e.g. LavaConfig.load)')
    config_class: Any = get_method(tag).config_class
    return config_class.from_dict(data)  # type: ignore[no-any-return]


@dataclass
class OTArguments:
    """The entropic OT solver's arguments, shared by every OT-based method (LAVA, GOT-D, Projektor, DAM).

    Args:
        eps (`float`, *optional*, defaults to 0.1): entropic regularisation.
        eps_mode (`str`, *optional*, defaults to `"absolute"`): `"relative"` means `eps * median(cost)`.
        tol (`float`, *optional*, defaults to 1e-4): stop when the L1 marginal error is below it.
        max_iter (`int`, *optional*, defaults to 3000): Sinkhorn iterations at the final epsilon.
        momentum (`float`, *optional*, defaults to 1.0): over-relaxation in [1, 2).
        mode (`str`, *optional*, defaults to `"auto"`): `"dense"` keeps the cost, `"online"` recomputes blocks.
        block_size (`int`, *optional*): rows per cost block.
        dtype (`str`, *optional*, defaults to `"float32"`): arithmetic precision (`"float64"` for exact tests).
        device (`str`, *optional*, defaults to `"cpu"`): where the OT arithmetic runs.
        seed (`int`, *optional*, defaults to 0): seeds every random choice.
    """

    eps: float = field(default=0.1, metadata={"help": "Entropic regularisation of the OT problem."})
    eps_mode: Literal["absolute", "relative"] = field(
        default="absolute", metadata={"help": "'absolute' = eps as is; 'relative' = eps * median cost."}
    )
    tol: float = field(default=1e-4, metadata={"help": "L1 marginal error at which Sinkhorn stops."})
    max_iter: int = field(default=3000, metadata={"help": "Sinkhorn iterations at the final epsilon."})
    momentum: float = field(default=1.0, metadata={"help": "Sinkhorn over-relaxation in [1, 2)."})
    mode: Literal["auto", "dense", "online"] = field(
        default="auto", metadata={"help": "Cost storage: dense (kept), online (recomputed blocks) or auto."}
    )
    block_size: int | None = field(default=None, metadata={"help": "Rows per cost block."})
    dtype: Literal["float32", "float64"] = field(default="float32", metadata={"help": "OT arithmetic precision."})
    device: str = field(default="cpu", metadata={"help": "Device of the OT arithmetic ('cpu', 'cuda', 'auto')."})
    seed: int = field(default=0, metadata={"help": "Seed of every random choice."})

    def check_ot_arguments(self, dtypes: tuple[str, ...] = ("float32", "float64")) -> None:
        """Typed errors for out-of-range solver arguments (called from the config's `__post_init__`)."""
        if not self.eps > 0:
            raise ConfigError(f"eps must be positive, got {self.eps}")
        if not self.tol > 0:
            raise ConfigError(f"tol must be positive, got {self.tol}")
        if self.max_iter <= 0:
            raise ConfigError(f"max_iter must be positive, got {self.max_iter}")
        if not 1.0 <= self.momentum < 2.0:
            raise ConfigError(f"momentum must lie in [1, 2), got {self.momentum}")
        if self.eps_mode not in ("absolute", "relative"):
            raise ConfigError(f"eps_mode must be 'absolute' or 'relative', got {self.eps_mode!r}")
        if self.mode not in ("auto", "dense", "online"):
            raise ConfigError(f"mode must be 'auto', 'dense' or 'online', got {self.mode!r}")
        if self.dtype not in dtypes:
            raise ConfigError(f"dtype must be one of {dtypes}, got {self.dtype!r}")

    def ot_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for [`~hf_datavalue.core.ot.sinkhorn`]."""
        return {
            "eps": self.eps,
            "eps_mode": self.eps_mode,
            "tol": self.tol,
            "max_iter": self.max_iter,
            "momentum": self.momentum,
            "mode": self.mode,
            "block_size": self.block_size,
            "seed": self.seed,
        }


@dataclass
class EmbedderArguments:
    """The embedder's arguments, shared by every method that embeds text or images.

    Args:
        embedder (`str`, *optional*): a model path or Hub id (`"st:<name>"` for sentence-transformers).
        pooling (`str`, *optional*, defaults to `"mean"`): token pooling (`"mean"`, `"cls"`, `"unmasked_mean"`).
        max_length (`int`, *optional*, defaults to 256): tokenizer truncation length.
        normalize (`bool`, *optional*, defaults to `True`): L2-normalise the embeddings.
        embed_batch_size (`int`, *optional*, defaults to 64): rows per forward pass.
    """

    embedder: str | None = field(default=None, metadata={"help": "Embedding model path or Hub id."})
    pooling: Literal["mean", "cls", "unmasked_mean"] = field(default="mean", metadata={"help": "Token pooling."})
    max_length: int = field(default=256, metadata={"help": "Tokenizer truncation length."})
    normalize: bool = field(default=True, metadata={"help": "L2-normalise the embeddings."})
    embed_batch_size: int = field(default=64, metadata={"help": "Rows per embedding forward pass."})
