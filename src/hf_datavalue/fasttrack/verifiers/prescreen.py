"""A lexical pre-screen for CPU verifiers: skip passages that share too few content words with the statement.

A passage that states a fact names its entities, so it shares most content words of the statement (subject,
answer). The pre-screen answers "no" without running the model when the share of the statement's content words
(lower-cased word tokens, English function words dropped) found in the passage is below `min_overlap`.
[`tune_min_overlap`] picks the largest `min_overlap` on a grid that still keeps a target share (default 98%) of
known supporting pairs, on dev pairs only. It is a cost device of the cross-encoder route, recorded in the
verifier's description (and so in the cache key and the provenance).

Usage:

```python
from hf_datavalue.fasttrack.verifiers.prescreen import overlap, tune_min_overlap

overlap("Steve Nunn was born in Glasgow .", "Nunn was born in Glasgow, Scotland.")   # 0.75
gate = tune_min_overlap(dev_statements, dev_supporting_sentences, keep=0.98)
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ...core.errors import ConfigError

__all__ = ["content_tokens", "overlap", "tune_min_overlap"]

_WORD = re.compile(r"\w+", re.UNICODE)
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "as",
        "and",
        "or",
        "but",
        "nor",
        "not",
        "no",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "being",
        "am",
        "has",
        "had",
        "have",
        "having",
        "do",
        "does",
        "did",
        "it",
        "its",
        "he",
        "she",
        "his",
        "her",
        "him",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "than",
        "then",
        "there",
        "also",
        "de",
        "la",
        "le",
        "du",
        "des",
        "da",
        "di",
        "van",
        "von",
    ]
)


def content_tokens(text: str) -> set[str]:
    """Lower-cased word tokens of `text` without function words and one-character tokens."""
    return {w for w in _WORD.findall(str(text).lower()) if len(w) > 1 and w not in _FUNCTION_WORDS}


def overlap(statement: str, passage: str, statement_tokens: set[str] | None = None) -> float:
    """Share of the statement's content tokens that occur in the passage (1.0 when the statement has none)."""
    st = statement_tokens if statement_tokens is not None else content_tokens(statement)
    if not st:
        return 1.0
    return len(st & content_tokens(passage)) / len(st)


def tune_min_overlap(
    statements: Sequence[str], supporting: Sequence[str], keep: float = 0.98, grid: Sequence[float] | None = None
) -> float:
    """The largest gate on `grid` that keeps at least `keep` of the (statement, supporting passage) pairs.

    Args:
        statements (`Sequence[str]`), supporting (`Sequence[str]`): aligned dev pairs known to support.
        keep (`float`, *optional*, defaults to 0.98): share of supporting pairs that must pass.
        grid (`Sequence[float]`, *optional*): candidate gates (default 0.0, 0.05, ..., 0.6).
    """
    if len(statements) != len(supporting):
        raise ConfigError(f"{len(statements)} statements but {len(supporting)} supporting passages")
    if not 0.0 < keep <= 1.0:
        raise ConfigError(f"keep is a share in (0, 1], got {keep}")
    if not len(statements):
        return 0.0
    ov = np.asarray([overlap(s, p) for s, p in zip(statements, supporting)])
    best = 0.0
    for g in sorted(grid if grid is not None else np.round(np.arange(0.0, 0.61, 0.05), 2)):
        if float(np.mean(ov >= g)) >= keep:
            best = float(g)
    return best
