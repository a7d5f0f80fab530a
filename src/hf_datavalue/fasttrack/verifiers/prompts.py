"""The library's prompts (no public FastTrack code exists: these are our own choices, versioned in provenance).

* [`verification_prompt`]: the fact plus a numbered list of at most B passages, asking for a JSON array of the
  numbers of the passages that explicitly state the fact; [`parse_answer`] reads the reply tolerantly.
* [`keyword_prompt`]: up to 20 member texts, asking for 3-8 short keywords (named entities first) as a JSON
  list; [`parse_keywords`] reads the reply.
* [`prompt_hash`]: the cache key of a prompt (sha256 over the model description and the prompt text).

Usage:

```python
from hf_datavalue.fasttrack.verifiers.prompts import parse_answer, verification_prompt

prompt = verification_prompt("Steve Nunn was born in Chicago.", ["Nunn was born in Chicago.", "He is tall."])
parse_answer('```json\n[1]\n```', 2)  # [True, False]
parse_answer("none of them", 2)       # None (unparsable: retry once, then count a failure)
```
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "KEYWORD_PROMPT_VERSION",
    "VERIFY_PROMPT_VERSION",
    "keyword_prompt",
    "parse_answer",
    "parse_keywords",
    "prompt_hash",
    "verification_prompt",
]

VERIFY_PROMPT_VERSION = "fasttrack-verify-v1"
KEYWORD_PROMPT_VERSION = "fasttrack-keywords-v1"

_VERIFY_TEMPLATE = (
    "You check whether passages state a fact.\n\n"
    "Fact: {statement}\n\n"
    "Passages:\n{passages}\n\n"
    "Return a JSON array of the numbers of the passages that explicitly state this fact, for example [1, 3]. "
    "Return [] if no passage states it. Answer with the JSON array only."
)

_KEYWORD_TEMPLATE = (
    "Here are texts from one group of a corpus:\n{texts}\n\n"
    "Give 3 to 8 short keywords that describe what these texts are about, named entities (people, places, "
    "organisations, works) first. Answer with a JSON list of strings only, for example "
    '["Barack Obama", "Honolulu", "birthplace"].'
)


def verification_prompt(statement: str, passages: Sequence[str]) -> str:
    """The batched yes/no prompt: the fact and the passages numbered from 1."""
    numbered = "\n".join(f"[{i}] {' '.join(str(p).split())}" for i, p in enumerate(passages, start=1))
    return _VERIFY_TEMPLATE.format(statement=" ".join(str(statement).split()), passages=numbered)


def keyword_prompt(texts: Sequence[str]) -> str:
    """The keywording prompt over a few member texts of a cluster (or one query statement)."""
    listed = "\n".join(f"- {' '.join(str(t).split())}" for t in texts)
    return _KEYWORD_TEMPLATE.format(texts=listed)


def prompt_hash(prompt: str, model: Any = None) -> str:
    """sha256 of the JSON of `(model, prompt)`: the key of a cached response."""
    payload = json.dumps([model, prompt], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_ARRAY = re.compile(r"\[[^\[\]]*\]", re.DOTALL)
_YES = {"yes", "true", "y", "supports", "supported", "1"}
_NO = {"no", "false", "n", "not supported", "0"}


def _json_candidates(text: str) -> list[Any]:
    """JSON values found in `text`: the whole text, fenced blocks, then every bracketed array."""
    out: list[Any] = []
    chunks = [text, *_FENCE.findall(text)]
    for chunk in chunks:
        with contextlib.suppress(ValueError):
            out.append(json.loads(chunk.strip()))
    for match in _ARRAY.findall(text):
        with contextlib.suppress(ValueError):
            out.append(json.loads(match))
    return out


def _as_mask(value: Any, n: int) -> list[bool] | None:
    if isinstance(value, dict):
        for key in ("supported", "supporting", "passages", "answer", "numbers", "ids"):
            if key in value:
                return _as_mask(value[key], n)
        return None
    if not isinstance(value, list):
        return None
    if not value:
        return [False] * n
    # a list of n yes/no values (booleans or words)
    if len(value) == n and all(
        isinstance(v, bool) or (isinstance(v, str) and v.strip().lower() in _YES | _NO) for v in value
    ):
        if all(isinstance(v, bool) for v in value):
            return [bool(v) for v in value]
        if all(isinstance(v, str) for v in value):
            return [v.strip().lower() in _YES for v in value]
    numbers: list[int] = []
    for v in value:
        if isinstance(v, bool):
            return None
        if isinstance(v, int):
            numbers.append(v)
        elif isinstance(v, float) and v.is_integer():
            numbers.append(int(v))
        elif isinstance(v, str) and re.fullmatch(r"\s*\[?\s*\d+\s*\]?\s*", v):
            numbers.append(int(re.sub(r"\D", "", v)))
        else:
            return None
    if any(not 1 <= k <= n for k in numbers):
        return None  # a number outside the batch: the model is confused, do not guess
    chosen = set(numbers)
    return [i in chosen for i in range(1, n + 1)]


def parse_answer(text: str, n: int) -> list[bool] | None:
    """Read a verifier reply into `n` decisions, or `None` when it cannot be read.

    Accepted: a JSON array of 1-based passage numbers (`[1, 3]`, `["2"]`, `[]`), a JSON array of `n` booleans or
    yes/no words, an object holding such an array under `supported`/`passages`/`answer`, each possibly inside a
    ```json fence or surrounded by prose (the first readable array wins). Numbers outside `1..n` make the reply
    unreadable rather than guessed.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not isinstance(text, str):
        return None
    for value in _json_candidates(text):
        mask = _as_mask(value, n)
        if mask is not None:
            return mask
    return None


def parse_keywords(text: str, max_keywords: int = 8) -> list[str] | None:
    """Read a keywording reply (a JSON list of strings, possibly fenced or in prose); `None` when unreadable."""
    if not isinstance(text, str):
        return None
    for value in _json_candidates(text):
        if isinstance(value, dict):
            value = value.get("keywords")
        if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
            words = [" ".join(str(v).split()) for v in value]
            words = [w for w in words if w]
            if words:
                return list(dict.fromkeys(words))[:max_keywords]
    return None
