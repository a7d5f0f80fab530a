"""The verifier protocol: decide, for a fact and a batch of passages, which passages state the fact.

Every back-end (oracle, cross-encoder, local causal LM, OpenAI-compatible endpoint) subclasses [`Verifier`] and
counts its work in a [`VerifierStats`]; the tracer sums the counters per query. [`build_verifier`] turns a CLI
spec string into a verifier; the LLM back-ends are imported lazily so their dependencies stay optional.

Usage:

```python
from hf_datavalue.fasttrack.verifiers import build_verifier

verifier = build_verifier("oracle", truth={"Paris is the capital of France.": {"Paris is France's capital."}})
verifier.verify("Paris is the capital of France.", ["Paris is France's capital.", "Rome is in Italy."])
# [True, False]
verifier.stats.calls  # 1
```
"""

from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ...core.errors import ConfigError, MissingDependencyError

__all__ = ["VERIFIER_SPECS", "Verifier", "VerifierStats", "build_verifier"]


@dataclass
class VerifierStats:
    """Counters of one verifier's work; the tracer records their per-query difference.

    Args:
        calls (`int`): model calls made (a batch of passages = one call; cache hits are not calls).
        prompt_tokens (`int`): tokens sent to the model.
        completion_tokens (`int`): tokens generated (0 for classifiers).
        seconds (`float`): wall time spent inside the model calls.
        parse_failures (`int`): answers that could not be parsed even after the retry (batch marked unverified).
        retries (`int`): calls repeated after an unparsable answer or a transport error.
        truncated (`int`): passages cut to fit the context window.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    parse_failures: int = 0
    retries: int = 0
    truncated: int = 0

    def copy(self) -> VerifierStats:
        return dataclasses.replace(self)

    def __add__(self, other: VerifierStats) -> VerifierStats:
        return VerifierStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in _FIELDS})

    def __sub__(self, other: VerifierStats) -> VerifierStats:
        return VerifierStats(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in _FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = dataclasses.fields(VerifierStats)


class Verifier(ABC):
    """Base class of every verifier back-end (the library's one LLM extension point).

    A subclass sets `name`, implements [`verify`] and extends [`describe`] with everything that changes its
    answers (model path and revision, prompt version, threshold): the description keys the response cache and
    goes into the traces' provenance. It adds its work to `self.stats`.
    """

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self.stats = VerifierStats()

    @abstractmethod
    def verify(self, statement: str, passages: Sequence[str]) -> list[bool]:
        """One decision per passage: does it explicitly state `statement`? (`len(result) == len(passages)`)"""

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (cache key and provenance); subclasses add their model and settings."""
        return {"name": self.name}

    def reset_stats(self) -> None:
        self.stats = VerifierStats()


# spec prefix -> (module under hf_datavalue.fasttrack.verifiers, class name)
VERIFIER_SPECS: dict[str, tuple[str, str]] = {
    "oracle": ("oracle", "OracleVerifier"),
    "cross-encoder": ("cross_encoder", "CrossEncoderVerifier"),
    "causal-lm": ("causal_lm", "CausalLMVerifier"),
    "openai": ("openai_endpoint", "OpenAIVerifier"),
}


def _load_class(prefix: str) -> Any:
    module_name, class_name = VERIFIER_SPECS[prefix]
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
    except ModuleNotFoundError as err:
        if err.name and err.name.endswith(module_name):
            raise ConfigError(
                f"the {prefix!r} verifier back-end is not available in this version of hf_datavalue "
                f"(module hf_datavalue.fasttrack.verifiers.{module_name} is missing); use 'oracle' or "
                "'cross-encoder:DIR'"
            ) from None
        raise MissingDependencyError(str(err.name), "llm", f"the {prefix!r} verifier") from err
    return getattr(module, class_name)


def build_verifier(spec: str, **kwargs: Any) -> Verifier:
    """Build a verifier from a spec string; `kwargs` go to its constructor.

    Specs: `"oracle"` (needs `truth=`), `"cross-encoder:DIR"` (a sequence-classification model folder, e.g. one
    written by `hf-datavalue trace train-verifier`), `"causal-lm:PATH"` (a local causal LM path or Hub id) and
    `"openai:URL#MODEL"` (an OpenAI-compatible endpoint such as `http://127.0.0.1:8000/v1#my-model`).

    Raises:
        [`ConfigError`]: an unknown or malformed spec.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"a verifier spec must be a non-empty string, got {spec!r}")
    prefix, _, arg = spec.strip().partition(":")
    if prefix not in VERIFIER_SPECS:
        raise ConfigError(
            f"unknown verifier {spec!r}; use one of 'oracle', 'cross-encoder:DIR', 'causal-lm:PATH', "
            "'openai:URL#MODEL'"
        )
    if prefix == "oracle":
        if arg:
            raise ConfigError(f"the oracle verifier takes no argument, got {spec!r}")
        return _load_class(prefix)(**kwargs)  # type: ignore[no-any-return]
    if not arg:
        raise ConfigError(f"verifier spec {spec!r} needs an argument after ':' (see 'hf-datavalue trace run -h')")
    if prefix == "openai":
        url, sep, model = arg.rpartition("#")
        if not sep or not url or not model:
            raise ConfigError(f"an openai verifier spec reads 'openai:URL#MODEL', got {spec!r}")
        return _load_class(prefix)(url, model, **kwargs)  # type: ignore[no-any-return]
    return _load_class(prefix)(arg, **kwargs)  # type: ignore[no-any-return]
