"""Keyworders: short labels for every leaf cluster and for every query.

* [`TfidfKeyworder`] (offline default): named-entity-like strings (runs of capitalised words) ranked by a
  class-based TF-IDF over clusters, followed by the cluster's class-based TF-IDF terms (all of both by default,
  or a capped top list). Query keywords are the query's entity strings and content words.
* [`LLMKeyworder`]: the paper's route. Shows up to `sample` seeded member texts to any text-generation callable
  with the library's keywording prompt and parses the JSON list; responses are cached by prompt hash.

Usage:

```python
import numpy as np
from hf_datavalue.fasttrack.keywords import TfidfKeyworder

kw = TfidfKeyworder()                               # every entity string and content word per cluster
clusters = kw.fit(["Steve Nunn was born in Glasgow.", "Milan is in Italy."], np.array([0, 1]), n_clusters=2)
clusters[0]                                         # ['Steve Nunn', 'Glasgow', ...]
kw.query_keywords("Steve Nunn was born in Glasgow .")  # ['Steve Nunn', 'Glasgow', 'born']
```
"""

from __future__ import annotations

import logging
import math
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .cache import ResponseCache
from .verifiers.prompts import KEYWORD_PROMPT_VERSION, keyword_prompt, parse_keywords

__all__ = ["Keyworder", "LLMKeyworder", "TfidfKeyworder", "entity_strings", "get_keyworder"]

logger = logging.getLogger(__name__)

_CONNECTORS = {"of", "de", "la", "le", "von", "van", "der", "den", "du", "da", "del", "di", "y", "bin", "al"}
_BREAK = re.compile(r"[,;:()\[\]{}\"!?/]|\.(?:\s|$)")
_TOKEN = re.compile(r"[^\W_][\w'’.\-]*", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "one",
        "two",
        "first",
        "also",
        "known",
        "called",
        "later",
        "became",
        "become",
        "born",
        "since",
        "who",
        "whose",
    ]
)


def entity_strings(text: str) -> list[str]:
    """Named-entity-like strings: maximal runs of capitalised tokens, lower-case connectors allowed inside."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
        while len(run) > 1 and run[0].lower() in _STOP:
            run.pop(0)
        if run and not (len(run) == 1 and run[0].lower() in _STOP):
            out.append(" ".join(run).strip(".-'’"))
        run.clear()

    for segment in _BREAK.split(str(text)):
        for tok in _TOKEN.findall(segment):
            if tok[0].isupper() or (tok[0].isdigit() and run) or run and tok.lower() in _CONNECTORS:
                run.append(tok)
            else:
                flush()
        flush()
    return [e for e in dict.fromkeys(out) if len(e) >= 2]


def _content_words(text: str) -> list[str]:
    words = [t.strip(".-'’").lower() for t in _TOKEN.findall(str(text))]
    return [w for w in dict.fromkeys(words) if len(w) >= 3 and w not in _STOP and not w.isdigit()]


class Keyworder(ABC):
    """Produces keywords for leaf clusters ([`fit`]) and for queries ([`query_keywords`])."""

    name: str = ""
    calls: int = 0

    @abstractmethod
    def fit(
        self, texts: Sequence[str], labels: np.ndarray, n_clusters: int, progress: bool = False
    ) -> list[list[str]]:
        """Keywords of every cluster `0..n_clusters-1`, given the member texts and their cluster labels."""

    @abstractmethod
    def query_keywords(self, text: str) -> list[str]:
        """Keywords of one query statement (the tracer adds the subject and answer strings)."""

    def describe(self) -> dict[str, Any]:
        """A JSON-able description, stored with the index and in provenance."""
        return {"name": self.name}


class TfidfKeyworder(Keyworder):
    """Offline keyworder: class-based TF-IDF entity strings first, then class-based TF-IDF terms.

    Args:
        max_keywords (`int`, *optional*): keywords per cluster; `None` (default) keeps every entity string and
            every content word of the cluster (best keyword coverage: spec §8.4), each once, in class-based
            TF-IDF order.
        n_terms (`int`, *optional*, defaults to 8): with a `max_keywords` cap, how many of them are plain TF-IDF
            terms (the rest are entities).
    """

    name = "tfidf"

    def __init__(self, max_keywords: int | None = None, n_terms: int = 8) -> None:
        self.max_keywords = None if max_keywords is None else int(max_keywords)
        self.n_terms = int(n_terms if max_keywords is None else min(n_terms, max_keywords // 2))

    @staticmethod
    def _ctfidf(per_cluster: list[Counter[str]]) -> list[list[tuple[str, float]]]:
        """Class-based TF-IDF (BERTopic): tf normalised per class times log(1 + avg class size / term frequency)."""
        total: Counter[str] = Counter()
        for c in per_cluster:
            total.update(c)
        avg = max(1.0, sum(total.values()) / max(1, len(per_cluster)))
        out = []
        for counts in per_cluster:
            n = max(1, sum(counts.values()))
            scored = [(t, (k / n) * math.log(1.0 + avg / total[t])) for t, k in counts.items()]
            scored.sort(key=lambda item: (-item[1], item[0]))
            out.append(scored)
        return out

    def fit(
        self, texts: Sequence[str], labels: np.ndarray, n_clusters: int, progress: bool = False
    ) -> list[list[str]]:
        from tqdm.auto import tqdm

        labels = np.asarray(labels)
        entities: list[Counter[str]] = [Counter() for _ in range(n_clusters)]
        terms: list[Counter[str]] = [Counter() for _ in range(n_clusters)]
        for text, label in tqdm(
            zip(texts, labels), total=len(labels), desc="Keywords (TF-IDF)", disable=not progress, unit="row"
        ):
            entities[int(label)].update(entity_strings(text))
            terms[int(label)].update(_content_words(text))
        ent_scores, term_scores = self._ctfidf(entities), self._ctfidf(terms)
        out = []
        if self.max_keywords is None:
            for c in range(n_clusters):
                both = [e for e, _ in ent_scores[c]] + [t for t, _ in term_scores[c]]
                out.append(list(dict.fromkeys(both)))
            return out
        n_ent = self.max_keywords - self.n_terms
        for c in range(n_clusters):
            ents = [e for e, _ in ent_scores[c][:n_ent]]
            seen = {w.lower() for e in ents for w in e.split()}
            words = [t for t, _ in term_scores[c] if t not in seen][: self.max_keywords - len(ents)]
            out.append(ents + words)
        return out

    def query_keywords(self, text: str) -> list[str]:
        ents = entity_strings(text)
        inside = {w.lower() for e in ents for w in e.split()}
        return ents + [w for w in _content_words(text) if w not in inside]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "max_keywords": self.max_keywords, "n_terms": self.n_terms}


class LLMKeyworder(Keyworder):
    """Keywords from a language model with the library's prompt (3-8 keywords, entities first, JSON list).

    Args:
        generate (`Callable[[str], str]`): prompt -> completion (greedy), e.g. a wrapped local causal LM.
        model (`dict`, *optional*): JSON-able description of the model (part of the cache key).
        cache (`ResponseCache`, *optional*): response cache; a rerun with the same prompts makes zero calls.
        sample (`int`, *optional*, defaults to 20): member texts shown per cluster (seeded sample).
        seed (`int`, *optional*, defaults to 0): sampling seed.
        max_keywords (`int`, *optional*, defaults to 8): keywords kept per reply.
    """

    name = "llm"

    def __init__(
        self,
        generate: Callable[[str], str],
        model: dict[str, Any] | None = None,
        cache: ResponseCache | None = None,
        sample: int = 20,
        seed: int = 0,
        max_keywords: int = 8,
    ) -> None:
        self.generate = generate
        self.model = dict(model or {"name": getattr(generate, "__name__", type(generate).__name__)})
        self.cache = cache if cache is not None else ResponseCache()
        self.sample = int(sample)
        self.seed = int(seed)
        self.max_keywords = int(max_keywords)
        self.calls = 0
        self.parse_failures = 0

    def _ask(self, prompt: str) -> list[str]:
        key = ResponseCache.key(prompt, [self.model, KEYWORD_PROMPT_VERSION])
        cached = self.cache.get(key)
        if cached is not None:
            return list(cached)
        for _attempt in range(2):  # one retry on an unreadable reply
            self.calls += 1
            parsed = parse_keywords(self.generate(prompt), self.max_keywords)
            if parsed is not None:
                self.cache.put(key, parsed)
                return parsed
        self.parse_failures += 1
        logger.warning("the keyword model gave no readable JSON list twice; the cluster gets no keywords")
        return []

    def fit(
        self, texts: Sequence[str], labels: np.ndarray, n_clusters: int, progress: bool = False
    ) -> list[list[str]]:
        from tqdm.auto import tqdm

        labels = np.asarray(labels)
        out = []
        for c in tqdm(range(n_clusters), desc="Keywords (LLM)", disable=not progress, unit="cluster"):
            members = np.flatnonzero(labels == c)
            rng = np.random.default_rng([self.seed, c])
            shown = np.sort(rng.choice(members, size=min(self.sample, len(members)), replace=False))
            out.append(self._ask(keyword_prompt([texts[int(i)] for i in shown])))
        return out

    def query_keywords(self, text: str) -> list[str]:
        return self._ask(keyword_prompt([text]))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "prompt_version": KEYWORD_PROMPT_VERSION,
            "sample": self.sample,
            "seed": self.seed,
            "max_keywords": self.max_keywords,
        }


def get_keyworder(spec: str | Keyworder | dict[str, Any], max_keywords: int | None = None) -> Keyworder:
    """A keyworder from an object, a name (`"tfidf"`) or a stored description."""
    if isinstance(spec, Keyworder):
        return spec
    if isinstance(spec, dict):
        if spec.get("name") == "tfidf":
            return TfidfKeyworder(spec.get("max_keywords", max_keywords), spec.get("n_terms", 8))
        from ..core.errors import ConfigError

        raise ConfigError(
            f"the index was keyworded by {spec.get('name')!r}: pass the same keyworder object to trace with it"
        )
    if spec == "tfidf":
        return TfidfKeyworder(max_keywords)
    from ..core.errors import ConfigError

    raise ConfigError(f"unknown keyworder {spec!r}; use 'tfidf' or pass a Keyworder (e.g. LLMKeyworder)")
