"""[`CausalLMVerifier`]: a local `transformers` causal LM judges a numbered batch of passages.

Greedy decoding, the tokenizer's chat template when it has one (a plain-text prompt otherwise), one prompt per
batch of passages, a JSON answer parsed by `parse_answer`, one retry on an unparsable answer, and explicit
truncation of passages that do not fit the context (counted in `stats.truncated`).

Usage:

```python
from hf_datavalue.fasttrack.verifiers.causal_lm import CausalLMVerifier

verifier = CausalLMVerifier("Qwen/Qwen2.5-0.5B-Instruct", device="auto")
verifier.verify("Paris is the capital of France.", ["Paris is France's capital.", "Rome is in Italy."])
# [True, False]
print(verifier.stats)
```
"""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path
from typing import Any

from ...core.errors import ConfigError
from .generative import TRUNCATION_MARK, Completion, GenerativeVerifier

logger = logging.getLogger(__name__)

__all__ = ["CausalLMVerifier"]

#: Fewest tokens a passage may be cut to; below this the batch is too large for the context.
MIN_PASSAGE_TOKENS = 8


def resolve_device(device: str) -> str:
    """`"auto"` -> `"cuda"` when a GPU is visible, else `"cpu"`; any other value is returned unchanged."""
    if device == "auto":
        from ...core.embeddings import default_device

        return default_device()
    return device


class CausalLMVerifier(GenerativeVerifier):
    """A local causal LM (`AutoModelForCausalLM`) as the FastTrack evidence verifier.

    Each [`verify`] call is one prompt holding the statement and the numbered passages; the model answers with
    a JSON array of the numbers of the passages that state the fact. Decoding is greedy (`do_sample=False`,
    one beam), so a run is reproducible on the same device and dtype.

    Args:
        model (`str` or [`~transformers.PreTrainedModel`]): a local folder or a Hub id (loaded with
            `AutoModelForCausalLM.from_pretrained`), or a loaded model.
        tokenizer ([`~transformers.PreTrainedTokenizerBase`], *optional*): default loaded from `model`.
        device (`str`, *optional*, defaults to `"cpu"`): torch device; `"auto"` picks `"cuda"` when present.
        dtype (`str`, *optional*, defaults to `"auto"`): dtype to load the weights in (`"auto"`, `"float32"`,
            `"bfloat16"`, ...); ignored for a loaded model.
        max_new_tokens (`int`, *optional*, defaults to `64`): answer budget.
        max_context_tokens (`int`, *optional*): prompt + answer budget; default the model's
            `max_position_embeddings` (or `n_positions`), capped by the tokenizer's `model_max_length`.
        max_passage_tokens (`int`, *optional*): cut every passage to at most this many tokens.
        system_prompt (`str`, *optional*): the system message (folded into the user message when the chat
            template rejects a system role).
        revision (`str`, *optional*): model revision to load.
        trust_remote_code (`bool`, *optional*, defaults to `False`): passed to `from_pretrained`.

    Usage:

    ```python
    verifier = CausalLMVerifier("path/to/instruct-model", device="auto", max_new_tokens=32)
    flags = verifier.verify(statement, passages)
    verifier.stats.calls, verifier.stats.parse_failures, verifier.stats.truncated
    ```
    """

    name = "causal-lm"

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        device: str = "cpu",
        dtype: str = "auto",
        max_new_tokens: int = 64,
        max_context_tokens: int | None = None,
        max_passage_tokens: int | None = None,
        system_prompt: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ):
        super().__init__(system_prompt=system_prompt)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if int(max_new_tokens) < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
        if max_passage_tokens is not None and int(max_passage_tokens) < 1:
            raise ConfigError(f"max_passage_tokens must be >= 1, got {max_passage_tokens!r}")
        self.device = resolve_device(device)
        self.max_new_tokens = int(max_new_tokens)
        self.max_passage_tokens = None if max_passage_tokens is None else int(max_passage_tokens)
        self.revision = revision
        if isinstance(model, str | Path):
            self.model_name = str(model)
            torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype, None)
            if torch_dtype is None:
                raise ConfigError(f"unknown dtype {dtype!r}; use 'auto', 'float32', 'float16' or 'bfloat16'")
            model = AutoModelForCausalLM.from_pretrained(
                self.model_name, revision=revision, dtype=torch_dtype, trust_remote_code=trust_remote_code
            )
        else:
            self.model_name = str(getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__)
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(
                self.model_name, revision=revision, trust_remote_code=trust_remote_code
            )
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        self.uses_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.max_context_tokens = self._context_length(max_context_tokens)
        if self.max_context_tokens <= self.max_new_tokens + MIN_PASSAGE_TOKENS:
            raise ConfigError(
                f"max_context_tokens={self.max_context_tokens} leaves no room for a prompt next to "
                f"max_new_tokens={self.max_new_tokens}; lower max_new_tokens"
            )
        self._system_folded = False

    # -- set-up -------------------------------------------------------------------------------------------------
    def _context_length(self, given: int | None) -> int:
        if given is not None:
            if int(given) < 1:
                raise ConfigError(f"max_context_tokens must be >= 1, got {given!r}")
            return int(given)
        config = self.model.config
        limits = [
            int(v)
            for v in (getattr(config, "max_position_embeddings", None), getattr(config, "n_positions", None))
            if isinstance(v, int) and v > 0
        ]
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
            limits.append(tok_max)
        if not limits:
            raise ConfigError(
                f"cannot tell the context length of {self.model_name!r}: pass max_context_tokens explicitly"
            )
        return min(limits)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        template = getattr(self.tokenizer, "chat_template", None) or ""
        if not isinstance(template, str):  # a dict of named templates
            template = repr(sorted(template.items()))
        out.update(
            {
                "model": self.model_name,
                "revision": self.revision or _model_revision(self.model_name, self.model),
                "dtype": self.dtype,
                "decoding": "greedy",
                "max_new_tokens": self.max_new_tokens,
                "max_context_tokens": self.max_context_tokens,
                "max_passage_tokens": self.max_passage_tokens,
                "chat_template": hashlib.sha256(template.encode("utf-8")).hexdigest()[:16] if template else None,
            }
        )
        return out

    # -- prompt encoding ----------------------------------------------------------------------------------------
    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        tok = self.tokenizer
        if not self.uses_chat_template:
            return list(tok(self.plain_prompt(messages), add_special_tokens=True)["input_ids"])
        if self._system_folded:
            messages = _fold_system(messages)
        try:
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception as err:  # jinja raises TemplateError for templates without a system role
            if messages[0]["role"] != "system":
                raise
            logger.info("%s: the chat template rejects a system role (%s); folding it into the user turn", self, err)
            self._system_folded = True
            text = tok.apply_chat_template(_fold_system(messages), add_generation_prompt=True, tokenize=False)
        return list(tok(text, add_special_tokens=False)["input_ids"])

    def _fit_passages(self, statement: str, passages: list[str]) -> list[str]:
        tok = self.tokenizer
        ids = [list(tok(p, add_special_tokens=False)["input_ids"]) for p in passages]
        cut = [False] * len(passages)
        if self.max_passage_tokens is not None:
            for i, p_ids in enumerate(ids):
                if len(p_ids) > self.max_passage_tokens:
                    ids[i], cut[i] = p_ids[: self.max_passage_tokens], True
        texts = [self._render(p, p_ids, c) for p, p_ids, c in zip(passages, ids, cut)]
        budget = self.max_context_tokens - self.max_new_tokens
        for _ in range(4):  # re-tokenising a cut passage can shift the count by a token or two: converge
            length = len(self._encode(self.messages(statement, texts, retry=True)))
            if length <= budget:
                break
            overhead = length - sum(len(p_ids) for p_ids in ids)
            mark = len(tok(TRUNCATION_MARK, add_special_tokens=False)["input_ids"])
            per_passage = _water_level([len(p_ids) for p_ids in ids], budget - overhead - mark * len(passages))
            if per_passage < MIN_PASSAGE_TOKENS:
                raise ConfigError(
                    f"{len(passages)} passages do not fit a context of {self.max_context_tokens} tokens "
                    f"(prompt overhead {overhead} tokens, answer budget {self.max_new_tokens}): lower the batch "
                    "size B of the tracer, or max_new_tokens"
                )
            for i, p_ids in enumerate(ids):
                if len(p_ids) > per_passage:
                    ids[i], cut[i] = p_ids[:per_passage], True
            texts = [self._render(p, p_ids, c) for p, p_ids, c in zip(passages, ids, cut)]
        else:
            raise ConfigError(f"could not fit {len(passages)} passages into {self.max_context_tokens} tokens")
        n_cut = sum(cut)
        if n_cut:
            self.stats.truncated += n_cut
            logger.debug("%s: %d of %d passages truncated to fit the context", self.name, n_cut, len(passages))
        return texts

    def _render(self, text: str, ids: list[int], was_cut: bool) -> str:
        if not was_cut:
            return text
        return self.tokenizer.decode(ids, skip_special_tokens=True).rstrip() + TRUNCATION_MARK

    # -- generation ---------------------------------------------------------------------------------------------
    def _complete(self, messages: list[dict[str, str]]) -> Completion:
        import torch

        ids = self._encode(messages)
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
        config = copy.deepcopy(self.model.generation_config)
        config.do_sample = False
        config.num_beams = 1
        config.temperature = None
        config.top_p = None
        config.top_k = None
        config.max_new_tokens = self.max_new_tokens
        config.max_length = None
        pad = self.tokenizer.pad_token_id
        eos = self.tokenizer.eos_token_id if config.eos_token_id is None else config.eos_token_id
        if config.pad_token_id is None:
            config.pad_token_id = pad if pad is not None else (eos[0] if isinstance(eos, list) else eos)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=config
            )
        new = out[0, len(ids) :].tolist()
        eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        n_generated = len(new)
        for j, token in enumerate(new):  # tokens after the first EOS are padding
            if token in eos_ids:
                n_generated = j + 1
                break
        text = self.tokenizer.decode(new[:n_generated], skip_special_tokens=True)
        return Completion(text=text, prompt_tokens=len(ids), completion_tokens=n_generated)

    def __repr__(self) -> str:
        return f"CausalLMVerifier({self.model_name!r}, device={self.device!r})"


def _water_level(lengths: list[int], available: int) -> int:
    """The largest cap `c` with `sum(min(n, c) for n in lengths) <= available`: short passages stay whole and the
    long ones share the rest equally."""
    remaining, count = available, len(lengths)
    for n in sorted(lengths):
        if n * count > remaining:
            return max(remaining // count, 0)
        remaining -= n
        count -= 1
    return max(lengths, default=0)


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


def _model_revision(name: str, model: Any) -> str:
    """The Hub commit of a downloaded model, a hash of a local folder's config, or `"unknown"`."""
    commit = getattr(getattr(model, "config", None), "_commit_hash", None)
    if commit:
        return str(commit)
    config = Path(name) / "config.json"
    if config.is_file():
        return "sha256:" + hashlib.sha256(config.read_bytes()).hexdigest()[:16]
    return "unknown"
