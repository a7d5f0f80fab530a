"""[`GenerativeVerifier`]: the shared loop of the verifiers that *generate* their answer (a causal LM, an endpoint).

One verification call packs the statement and a numbered list of passages into one chat prompt
([`~hf_datavalue.fasttrack.verifiers.prompts.verification_prompt`]), generates greedily, and parses the JSON answer
with [`~hf_datavalue.fasttrack.verifiers.prompts.parse_answer`]. An unparsable answer is retried **once** with a stricter instruction appended (greedy decoding
would repeat the same answer on the same prompt); when the retry is unparsable too, the whole batch is marked
not verified and counted in `stats.parse_failures`. Passages too long for the context are cut explicitly by the
back-end and counted in `stats.truncated`.

A back-end implements two methods: `_fit_passages` (truncation) and `_complete` (one generation).

Usage:

```python
class MyVerifier(GenerativeVerifier):
    name = "my-llm"

    def _fit_passages(self, statement, passages):
        return passages

    def _complete(self, messages):
        text = my_llm(messages)
        return Completion(text=text, prompt_tokens=0, completion_tokens=0)
```
"""

from __future__ import annotations

import hashlib
import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import Verifier
from .prompts import VERIFY_PROMPT_VERSION, parse_answer, verification_prompt

logger = logging.getLogger(__name__)

__all__ = ["RETRY_INSTRUCTION", "Completion", "GenerativeVerifier"]

RETRY_INSTRUCTION = (
    "Your previous answer could not be read. Answer with only a JSON array of passage numbers, "
    "for example [1, 3], or [] if no passage states the fact. No other text."
)
TRUNCATION_MARK = " ..."


@dataclass
class Completion:
    """One generation: its text and its token counts (0 when the back-end does not report them)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class GenerativeVerifier(Verifier):
    """Base class of the verifiers that generate a JSON answer: prompt, parse, retry once, count.

    Args:
        system_prompt (`str`, *optional*): a system message; by default none (the verification prompt is
            self-contained).
    """

    def __init__(self, *, system_prompt: str | None = None):
        super().__init__()
        self.system_prompt = system_prompt

    # -- to implement -------------------------------------------------------------------------------------------
    @abstractmethod
    def _fit_passages(self, statement: str, passages: list[str]) -> list[str]:
        """Return the passages cut to fit the context (counting every cut passage in `stats.truncated`)."""

    @abstractmethod
    def _complete(self, messages: list[dict[str, str]]) -> Completion:
        """Generate one answer for the chat `messages` (greedy)."""

    # -- prompt -------------------------------------------------------------------------------------------------
    def messages(self, statement: str, passages: Sequence[str], *, retry: bool = False) -> list[dict[str, str]]:
        """The chat messages of one verification call (`retry=True`: with the stricter instruction)."""
        user = verification_prompt(statement, passages)
        if retry:
            user = f"{user}\n\n{RETRY_INSTRUCTION}"
        out = [{"role": "user", "content": user}]
        if self.system_prompt:
            out.insert(0, {"role": "system", "content": self.system_prompt})
        return out

    @staticmethod
    def plain_prompt(messages: list[dict[str, str]]) -> str:
        """The messages as one plain-text prompt, for models and endpoints without a chat template."""
        parts = [m["content"] for m in messages]
        return "\n\n".join(parts) + "\nAnswer:"

    def prompt_fingerprint(self) -> str:
        """A short hash of the prompt texts (system prompt, builder output on a probe, retry instruction)."""
        probe = self.messages("<statement>", ["<passage 1>", "<passage 2>"], retry=True)
        blob = "\x1f".join(m["role"] + "\x1e" + m["content"] for m in probe)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "prompt_version": VERIFY_PROMPT_VERSION, "prompt": self.prompt_fingerprint()}

    # -- the loop -----------------------------------------------------------------------------------------------
    def verify(self, statement: str, passages: Sequence[str]) -> list[bool]:
        """Judge every passage: `True` when it explicitly states `statement`.

        Args:
            statement (`str`): the fact, as a sentence.
            passages (`Sequence[str]`): the candidate passages of one batch (one prompt).

        Returns:
            `list[bool]`, one flag per passage. After an unparsable answer and an unparsable retry, all `False`
            (and `stats.parse_failures` grows by one).
        """
        passages = [str(p) for p in passages]
        if not passages:
            return []
        fitted = self._fit_passages(statement, passages)
        answer = ""
        for attempt in range(2):
            start = time.perf_counter()
            try:
                completion = self._complete(self.messages(statement, fitted, retry=attempt > 0))
            finally:
                self.stats.seconds += time.perf_counter() - start
            self.stats.calls += 1
            self.stats.prompt_tokens += int(completion.prompt_tokens)
            self.stats.completion_tokens += int(completion.completion_tokens)
            answer = completion.text
            parsed = parse_answer(answer, len(fitted))
            if parsed is not None:
                return parsed
            if attempt == 0:
                self.stats.retries += 1
                logger.debug("%s: unparsable answer %r; retrying once", self.name, answer[:200])
        self.stats.parse_failures += 1
        logger.warning(
            "%s: unparsable answer after one retry (%r); %d passages marked not verified",
            self.name,
            answer[:200],
            len(fitted),
        )
        return [False] * len(fitted)
