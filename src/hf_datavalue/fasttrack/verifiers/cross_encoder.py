"""The cross-encoder verifier: a sequence-classification model scores (statement, passage) pairs.

Works with any `AutoModelForSequenceClassification` checkpoint: a verifier trained by
`hf-datavalue trace train-verifier` (two labels, `supports` = 1, its dev-tuned threshold in
`verifier_config.json`), or an NLI model (the probability of its `entailment` label). Passages longer than
`max_length` tokens together with the statement are truncated (only the passage side) and counted. With
`min_overlap` (a lexical pre-screen, `verifiers/prescreen.py`; read from `verifier_config.json` when saved there)
passages sharing too few content words with the statement score 0 without a model call (counted in `screened`).

Usage:

```python
from hf_datavalue.fasttrack.verifiers import build_verifier

verifier = build_verifier("cross-encoder:outputs/verifier", device="cpu")
verifier.verify("Steve Nunn was born in Glasgow .", ["Nunn was born in Glasgow, Scotland.", "He died in 2010."])
verifier.stats.truncated
```
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...core.errors import ConfigError
from .base import Verifier
from .prescreen import content_tokens, overlap

__all__ = ["VERIFIER_CONFIG", "CrossEncoderVerifier"]

VERIFIER_CONFIG = "verifier_config.json"
_POSITIVE = re.compile(r"entail|support|yes|true|positive", re.IGNORECASE)


class CrossEncoderVerifier(Verifier):
    """Support = P(positive label | statement, passage) >= threshold.

    Args:
        model (`str`): a local model folder or Hub id of a sequence-classification model.
        threshold (`float`, *optional*): decision threshold; defaults to the folder's `verifier_config.json`
            value, else 0.5.
        batch_size (`int`, *optional*, defaults to 64): pairs per forward pass.
        max_length (`int`, *optional*): token limit of a pair; defaults to the saved config's, else 256.
        device (`str`, *optional*, defaults to `"cpu"`): torch device.
        min_overlap (`float`, *optional*): lexical pre-screen gate in [0, 1]; defaults to the saved config's, else
            0 (off).
    """

    name: ClassVar[str] = "cross-encoder"

    def __init__(
        self,
        model: str,
        threshold: float | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
        device: str = "cpu",
        min_overlap: float | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.model_path = str(model)
        saved: dict[str, Any] = {}
        cfg_file = Path(self.model_path) / VERIFIER_CONFIG
        if cfg_file.is_file():
            saved = json.loads(cfg_file.read_text(encoding="utf-8"))
        elif Path(self.model_path).exists() and not (Path(self.model_path) / "config.json").is_file():
            raise ConfigError(f"{self.model_path} holds no model (config.json is missing)")
        self.threshold = float(threshold if threshold is not None else saved.get("threshold", 0.5))
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold is a probability in [0, 1], got {self.threshold}")
        self.max_length = int(max_length or saved.get("max_length", 256))
        self.min_overlap = float(min_overlap if min_overlap is not None else saved.get("min_overlap", 0.0))
        if not 0.0 <= self.min_overlap <= 1.0:
            raise ConfigError(f"min_overlap is a share in [0, 1], got {self.min_overlap}")
        self.screened = 0
        self.batch_size = int(batch_size)
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.model_path).to(device).eval()
        id2label = {int(k): str(v) for k, v in (self.model.config.id2label or {}).items()}
        n_labels = int(self.model.config.num_labels)
        positive = [i for i, lab in id2label.items() if _POSITIVE.search(lab) and not lab.lower().startswith("not")]
        self.positive_index = positive[0] if positive else (1 if n_labels >= 2 else 0)
        self.n_labels = n_labels
        self._revision = self._fingerprint()
        self.saved_config = saved

    def _fingerprint(self) -> str:
        path = Path(self.model_path)
        digest = hashlib.sha256()
        for name in ("config.json", VERIFIER_CONFIG):
            if (path / name).is_file():
                digest.update((path / name).read_bytes())
        for weights in sorted(path.glob("*.safetensors")):
            digest.update(f"{weights.name}:{weights.stat().st_size}:{weights.stat().st_mtime_ns}".encode())
        return "sha256:" + digest.hexdigest()[:16] if path.exists() else "hub"

    def scores(self, statement: str, passages: Sequence[str]) -> np.ndarray:
        """P(supports) for every passage, `(len(passages),)` float64 (counts calls, tokens, truncations).

        Passages stopped by the pre-screen score 0.0; a batch the pre-screen empties makes no model call.
        """
        return self._scores(statement, passages)[0]

    def _scores(self, statement: str, passages: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        import torch

        start = time.perf_counter()
        out = np.zeros(len(passages), dtype=np.float64)
        keep = list(range(len(passages)))
        if self.min_overlap > 0:
            st = content_tokens(statement)
            keep = [i for i in keep if overlap(statement, str(passages[i]), st) >= self.min_overlap]
            self.screened += len(passages) - len(keep)
        for lo in range(0, len(keep), self.batch_size):
            idx = keep[lo : lo + self.batch_size]
            chunk = [str(passages[i]) for i in idx]
            full = self.tokenizer([statement] * len(chunk), chunk, truncation=False)["input_ids"]
            self.stats.truncated += sum(len(ids) > self.max_length for ids in full)
            enc = self.tokenizer(
                [statement] * len(chunk),
                chunk,
                truncation="only_second",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
            self.stats.prompt_tokens += int(enc["attention_mask"].sum())
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            if self.n_labels == 1:
                prob = torch.sigmoid(logits[:, 0])
            else:
                prob = torch.softmax(logits, dim=-1)[:, self.positive_index]
            out[idx] = prob.cpu().numpy()
        if keep:
            self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - start
        return out, keep

    def verify(self, statement: str, passages: Sequence[str]) -> list[bool]:
        if not passages:
            return []
        probs, keep = self._scores(statement, passages)
        passed = set(keep)  # a screened passage is "no" whatever the threshold
        return [i in passed and bool(p >= self.threshold) for i, p in enumerate(probs)]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model_path,
            "revision": self._revision,
            "threshold": self.threshold,
            "max_length": self.max_length,
            "min_overlap": self.min_overlap,
            "positive_label": self.positive_index,
            "trained_by": self.saved_config.get("trained_by"),
        }
