"""A linear probe (multinomial logistic regression) fitted with L-BFGS, for logit features.

LAVA's label term separates classes only when the features do; a probe fitted on the clean validation
embeddings turns generic embeddings into class-discriminative logits (the reference implementation gets its
strength the same way: its features are a trained classifier's logits).

Usage:

```python
import numpy as np
from hf_datavalue.core.probe import LinearProbe

x, y = np.random.default_rng(0).normal(size=(100, 8)), np.arange(100) % 3
probe = LinearProbe(n_classes=3).fit(x, y)
logits = probe.logits(x)  # (100, 3)
```
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import ShapeMismatchError

__all__ = ["LinearProbe"]


class LinearProbe:
    """Multinomial logistic regression on standardised features.

    Args:
        n_classes (`int`): number of classes (logit width).
        l2 (`float`, *optional*, defaults to 1e-3): L2 penalty on the weights (mean loss + l2 * ||W||^2).
        max_iter (`int`, *optional*, defaults to 200): L-BFGS iterations.
        seed (`int`, *optional*, defaults to 0): initialisation seed (the problem is convex; it only affects
            the last digits).
    """

    def __init__(self, n_classes: int, l2: float = 1e-3, max_iter: int = 200, seed: int = 0):
        self.n_classes = n_classes
        self.l2 = l2
        self.max_iter = max_iter
        self.seed = seed
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.weight_: torch.Tensor | None = None
        self.bias_: torch.Tensor | None = None

    def _standardise(self, x: np.ndarray) -> torch.Tensor:
        assert self.mean_ is not None and self.scale_ is not None
        if x.shape[1] != self.mean_.shape[0]:
            raise ShapeMismatchError(f"probe was fitted on width {self.mean_.shape[0]}, got width {x.shape[1]}")
        return torch.as_tensor((x - self.mean_) / self.scale_, dtype=torch.float64)

    def fit(self, x: np.ndarray, y: np.ndarray) -> LinearProbe:
        """Fit on features `x` (N, d) and int class ids `y` (N,)."""
        x = np.asarray(x, dtype=np.float64)
        self.mean_ = x.mean(0)
        self.scale_ = x.std(0) + 1e-8
        xt = self._standardise(x)
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        gen = torch.Generator().manual_seed(self.seed)
        weight = (0.01 * torch.randn(x.shape[1], self.n_classes, generator=gen, dtype=torch.float64)).requires_grad_()
        bias = torch.zeros(self.n_classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([weight, bias], max_iter=self.max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(xt @ weight + bias, yt) + self.l2 * (weight * weight).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight_, self.bias_ = weight.detach(), bias.detach()
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Probe logits `(N, n_classes)` as float32."""
        if self.weight_ is None or self.bias_ is None:
            raise RuntimeError("call fit() before logits()")
        out = self._standardise(np.asarray(x, dtype=np.float64)) @ self.weight_ + self.bias_
        return out.numpy().astype(np.float32)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float((self.logits(x).argmax(1) == np.asarray(y)).mean())
