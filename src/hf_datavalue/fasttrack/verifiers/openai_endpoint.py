"""[`OpenAIVerifier`]: any OpenAI-compatible endpoint (vLLM, TGI, llama.cpp server, `transformers serve`, an API).

The verifier talks through the official `openai` client (extra `llm`). Every request has a timeout; timeouts,
refused connections, rate limits and 5xx answers are retried with exponential back-off, and when the retries
are spent it raises [`EndpointError`] (a `DataValueError`) naming the URL, the model and the last failure.
Token counts come from the response's `usage` block.

Usage:

```python
from hf_datavalue.fasttrack.verifiers.openai_endpoint import OpenAIVerifier

# e.g. after `vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000`
verifier = OpenAIVerifier("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-7B-Instruct", timeout=60, max_retries=3)
verifier.verify("Paris is the capital of France.", ["Paris is France's capital.", "Rome is in Italy."])
print(verifier.stats.prompt_tokens, verifier.stats.completion_tokens)
```
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from ...core.errors import ConfigError, DataValueError, MissingDependencyError
from .generative import TRUNCATION_MARK, Completion, GenerativeVerifier

logger = logging.getLogger(__name__)

__all__ = ["EndpointError", "OpenAIVerifier"]


class EndpointError(DataValueError, RuntimeError):
    """An OpenAI-compatible endpoint failed: unreachable or timing out after the retries, or refusing a request."""


class OpenAIVerifier(GenerativeVerifier):
    """An OpenAI-compatible chat (or completions) endpoint as the FastTrack evidence verifier.

    Args:
        base_url (`str`): the API root, e.g. `"http://127.0.0.1:8000/v1"` (a missing `/v1` is *not* added).
        model (`str`): the model name the server expects.
        api_key (`str`, *optional*): default `$OPENAI_API_KEY`, else `"EMPTY"` (local servers ignore it). Never
            written to provenance.
        timeout (`float`, *optional*, defaults to `60.0`): seconds per request.
        max_retries (`int`, *optional*, defaults to `2`): further attempts after a timeout, a refused connection,
            a 429 or a 5xx answer; each one is counted in `stats.retries`.
        retry_backoff (`float`, *optional*, defaults to `1.0`): seconds before the first retry, doubled each time.
        max_tokens (`int`, *optional*, defaults to `64`): answer budget.
        temperature (`float`, *optional*, defaults to `0.0`): sampling temperature (0 = greedy).
        seed (`int`, *optional*): sent as `seed` (servers that honour it are more reproducible).
        chat (`bool`, *optional*, defaults to `True`): use `/chat/completions`; `False` uses `/completions` with
            a plain-text prompt (base models without a chat template).
        max_passage_chars (`int`, *optional*, defaults to `2000`): cut longer passages (counted in
            `stats.truncated`); `None` sends passages whole.
        system_prompt (`str`, *optional*): a system message; by default none.

    Raises:
        [`EndpointError`]: retries exhausted, or a non-retryable answer (unknown model, bad request, context
            overflow, authentication).

    Usage:

    ```python
    verifier = OpenAIVerifier("http://127.0.0.1:8000/v1", "my-model", timeout=30)
    flags = verifier.verify(statement, passages)
    ```
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        retry_backoff: float = 1.0,
        max_tokens: int = 64,
        temperature: float = 0.0,
        seed: int | None = None,
        chat: bool = True,
        max_passage_chars: int | None = 2000,
        system_prompt: str | None = None,
    ):
        super().__init__(system_prompt=system_prompt)
        try:
            import openai
        except ImportError as err:
            raise MissingDependencyError("openai", "llm", "OpenAIVerifier") from err
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', got {base_url!r}")
        if not model:
            raise ConfigError("model must name the model the endpoint serves")
        if not float(timeout) > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
        if int(max_retries) < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries!r}")
        if float(retry_backoff) < 0:
            raise ConfigError(f"retry_backoff must be >= 0, got {retry_backoff!r}")
        if int(max_tokens) < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {max_tokens!r}")
        if max_passage_chars is not None and int(max_passage_chars) < 1:
            raise ConfigError(f"max_passage_chars must be >= 1 or None, got {max_passage_chars!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.retry_backoff = float(retry_backoff)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.seed = seed
        self.chat = bool(chat)
        self.max_passage_chars = None if max_passage_chars is None else int(max_passage_chars)
        self.missing_usage = 0
        # The client's own retries are off: ours count in stats.retries and end in a typed error.
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=self.timeout,
            max_retries=0,
        )

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(
            {
                "base_url": self.base_url,
                "model": self.model,
                "api": "chat" if self.chat else "completions",
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
                "seed": self.seed,
                "max_passage_chars": self.max_passage_chars,
            }
        )
        return out

    def _fit_passages(self, statement: str, passages: list[str]) -> list[str]:
        limit = self.max_passage_chars
        if limit is None:
            return passages
        out = []
        for p in passages:
            if len(p) > limit:
                p = p[:limit].rstrip() + TRUNCATION_MARK
                self.stats.truncated += 1
            out.append(p)
        return out

    def _request(self, messages: list[dict[str, str]]) -> Any:
        kwargs: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if self.chat:
            return self._client.chat.completions.create(messages=messages, **kwargs)  # type: ignore[arg-type]
        return self._client.completions.create(prompt=self.plain_prompt(messages), **kwargs)

    def _complete(self, messages: list[dict[str, str]]) -> Completion:
        import openai

        retryable = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.retries += 1
                delay = self.retry_backoff * 2 ** (attempt - 1)
                logger.warning(
                    "%s: %s failed (%s); retry %d/%d in %.1fs",
                    self.name,
                    self.base_url,
                    _describe_error(last),
                    attempt,
                    self.max_retries,
                    delay,
                )
                time.sleep(delay)
            try:
                response = self._request(messages)
            except retryable as err:
                last = err
                continue
            except openai.APIStatusError as err:
                raise EndpointError(
                    f"{self.base_url} refused the request for model {self.model!r} with HTTP {err.status_code}: "
                    f"{_describe_error(err)}{_hint(err, self.base_url)}"
                ) from err
            return self._read(response)
        raise EndpointError(
            f"{self.base_url} (model {self.model!r}) failed {self.max_retries + 1} times "
            f"(timeout {self.timeout:g}s per request); last error: {_describe_error(last)}. Check that the server "
            "is running and reachable, or raise timeout/max_retries"
        ) from last

    def _read(self, response: Any) -> Completion:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise EndpointError(f"{self.base_url} returned no choices for model {self.model!r}: {response!r}"[:500])
        choice = choices[0]
        text = (choice.message.content if self.chat else choice.text) or ""
        usage = getattr(response, "usage", None)
        if usage is None:
            self.missing_usage += 1
            if self.missing_usage == 1:
                logger.warning("%s: %s reports no token usage; token counts stay 0", self.name, self.base_url)
            return Completion(text=text)
        return Completion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        )

    def __repr__(self) -> str:
        return f"OpenAIVerifier({self.base_url!r}, {self.model!r})"


def _describe_error(err: Exception | None) -> str:
    if err is None:
        return "unknown error"
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    return f"{type(err).__name__}: {message}"[:400]


def _hint(err: Any, base_url: str) -> str:
    status = getattr(err, "status_code", None)
    text = str(err).lower()
    if status in (400, 404) and "model" in text:
        return f" (is the model name right? GET {base_url}/models lists the served ones)"
    if status == 404:
        return f" (is the model name right? GET {base_url}/models lists the served ones)"
    if status in (401, 403):
        return " (set api_key= or $OPENAI_API_KEY)"
    if "context" in text or "too long" in text or "maximum" in text:
        return " (the prompt is too long: lower the tracer's batch size B or max_passage_chars)"
    return ""
