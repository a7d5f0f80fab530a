"""[`ResponseCache`]: model responses keyed by prompt hash, so a rerun makes zero model calls.

The cache is an append-only JSON-lines file: each answer is appended and flushed as soon as it arrives, so an
interrupted run resumes from the last answer. A torn last line (a crash mid-write) is skipped on load.

Usage:

```python
from hf_datavalue.fasttrack.cache import ResponseCache

cache = ResponseCache("outputs/trace/responses.jsonl")
key = cache.key("Is this supported?", model={"name": "oracle"})
if cache.get(key) is None:
    cache.put(key, [True, False])
```
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .verifiers.prompts import prompt_hash

__all__ = ["ResponseCache"]

logger = logging.getLogger(__name__)


class ResponseCache:
    """Prompt-hash -> response store, in memory (`path=None`) or backed by a JSON-lines file.

    Args:
        path (`str` or `os.PathLike`, *optional*): the JSON-lines file; created on the first `put`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        if self.path is not None and self.path.is_file():
            torn = 0
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        item = json.loads(line)
                        self._data[item["key"]] = item["value"]
                    except (ValueError, KeyError, TypeError):
                        torn += 1
            if torn:
                logger.warning("skipped %d unreadable lines of the response cache %s", torn, self.path)

    @staticmethod
    def key(prompt: str, model: Any = None) -> str:
        """The cache key of `prompt` sent to `model` (a JSON-able description)."""
        return prompt_hash(prompt, model)

    def get(self, key: str) -> Any | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
                    fh.flush()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
