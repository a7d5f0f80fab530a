"""Trivial baselines that every attribution report must show: own training loss and gradient dot product.

- **Self-loss**: the loss of each training row under the trained model. Higher = harder / more likely
  mislabeled. On regularised models it is a very strong mislabel detector.
- **Grad-dot**: `∇L(z_i)ᵀ∇L(q)` at the current checkpoint (TracIn at one checkpoint, no learning-rate factor),
  per test example or for the mean gradient of the test set (`mode="group"`). One SGD step of Forward-INF
  equals `lr` times this to first order. Positive = proponent.

Both return the same [`AttributionResult`] as Forward-INF.

Usage:

```python
from hf_datavalue.attribution import GradDotConfig, grad_dot_scores, self_loss_scores

suspicious = self_loss_scores(model, train_ds).scores[:, 0]  # higher = more suspicious
tracin = grad_dot_scores(model, train_ds, test_ds, GradDotConfig(mode="group"))
```
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..core.errors import ConfigError
from ..core.gradients import HFPerExampleLoss, LossFn, per_example_gradients, per_example_loss, query_gradient
from ..core.gradients import select_parameters as _select
from ..core.row_loader import ordered_loader, sweep
from ._common import model_device, prepare_pair, query_batches, renamed_missing_labels, scoring_mode
from ._config import JSONConfigMixin
from .result import AttributionResult

__all__ = ["GradDotConfig", "SelfLossConfig", "grad_dot_scores", "self_loss_scores"]


@dataclass
class SelfLossConfig(JSONConfigMixin):
    """Configuration of [`self_loss_scores`].

    Args:
        task (`str`, *optional*, defaults to `"auto"`): loss rule for transformers models.
        token_reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over label tokens.
        batch_size (`int`, *optional*, defaults to `32`): batch size of the sweep.
        top_k (`int`, *optional*, defaults to `10`): rows in `top_k.parquet`.
    """

    task: str = field(default="auto", metadata={"help": "loss rule for transformers models"})
    token_reduction: str = field(default="mean", metadata={"help": "'mean' or 'sum' over label tokens"})
    batch_size: int = field(default=32, metadata={"help": "batch size of the sweep"})
    top_k: int = field(default=10, metadata={"help": "rows in top_k.parquet"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size!r}")
        HFPerExampleLoss(task=self.task, token_reduction=self.token_reduction)


@dataclass
class GradDotConfig(JSONConfigMixin):
    """Configuration of [`grad_dot_scores`].

    Args:
        mode (`str`, *optional*, defaults to `"per_query"`): `"per_query"` or `"group"` (mean test gradient).
        params (`list[str]`, *optional*): name globs of the parameters whose gradients are used (default all
            trainable ones).
        task (`str`, *optional*, defaults to `"auto"`): loss rule for transformers models.
        token_reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over label tokens.
        batch_size (`int`, *optional*, defaults to `32`): batch size of the sweep.
        top_k (`int`, *optional*, defaults to `10`): rows per query in `top_k.parquet`.
    """

    mode: str = field(default="per_query", metadata={"help": "'per_query' or 'group'"})
    params: list[str] | None = field(default=None, metadata={"help": "globs of parameters to use"})
    task: str = field(default="auto", metadata={"help": "loss rule for transformers models"})
    token_reduction: str = field(default="mean", metadata={"help": "'mean' or 'sum' over label tokens"})
    batch_size: int = field(default=32, metadata={"help": "batch size of the sweep"})
    top_k: int = field(default=10, metadata={"help": "rows per query in top_k.parquet"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in ("per_query", "group"):
            raise ConfigError(f"mode must be 'per_query' or 'group', got {self.mode!r}")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size!r}")
        HFPerExampleLoss(task=self.task, token_reduction=self.token_reduction)


def self_loss_scores(
    model: nn.Module,
    train_dataset: Any,
    config: SelfLossConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    collate_fn: Callable[..., Any] | None = None,
    accelerator: Any = None,
) -> AttributionResult:
    """Own training loss of every row (one query column `"self"`; higher = more suspicious).

    Args:
        model (`torch.nn.Module`): the trained model (not modified).
        train_dataset: the rows to score, with labels.
        config (`SelfLossConfig`, *optional*): defaults to `SelfLossConfig()`.
        loss_fn, collate_fn, accelerator: as in [`forward_inf_scores`].
    """
    cfg = config or SelfLossConfig()
    train, _ = prepare_pair(model, train_dataset, None, loss_fn)
    device = accelerator.device if accelerator is not None else model_device(model)
    hf_loss = HFPerExampleLoss(task=cfg.task, token_reduction=cfg.token_reduction)
    t0 = time.perf_counter()

    def fn(batch: dict[str, Any]) -> torch.Tensor:
        with torch.no_grad():
            return per_example_loss(model, batch, loss_fn=loss_fn, hf_loss=hf_loss).double()

    with scoring_mode(model), renamed_missing_labels("train dataset"):
        row_idx, values = sweep(ordered_loader(train, cfg.batch_size, collate_fn), fn, accelerator, device)
    result = AttributionResult(
        method="self_loss",
        scores=values,
        row_idx=row_idx,
        query_ids=["self"],
        score_semantics="own training loss; higher = harder / more likely mislabeled",
        config=cfg.to_dict(),
        base_loss=values[:, 0],
        extra={"seconds": round(time.perf_counter() - t0, 4)},
    )
    result.check_finite()
    return result


def grad_dot_scores(
    model: nn.Module,
    train_dataset: Any,
    test_dataset: Any,
    config: GradDotConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    collate_fn: Callable[..., Any] | None = None,
    accelerator: Any = None,
) -> AttributionResult:
    """Gradient dot products `∇L(z_i)ᵀ∇L(q)` (TracIn at the current checkpoint); positive = proponent.

    Args:
        model (`torch.nn.Module`): the trained model (not modified).
        train_dataset: the rows to score.
        test_dataset: the queries, with labels.
        config (`GradDotConfig`, *optional*): defaults to `GradDotConfig()`.
        loss_fn, collate_fn, accelerator: as in [`forward_inf_scores`].
    """
    cfg = config or GradDotConfig()
    train, test = prepare_pair(model, train_dataset, test_dataset, loss_fn)
    device = accelerator.device if accelerator is not None else model_device(model)
    hf_loss = HFPerExampleLoss(task=cfg.task, token_reduction=cfg.token_reduction)
    t0 = time.perf_counter()
    with scoring_mode(model):
        params = _select(model, cfg.params)
        qb = query_batches(test, cfg.batch_size if cfg.mode == "group" else 1, collate_fn, device)
        groups = [("all", [b for _, b in qb])] if cfg.mode == "group" else [(str(k[0]), [b]) for k, b in qb]
        qvecs = []
        with renamed_missing_labels("test dataset"):
            for _, batches in groups:
                g = query_gradient(model, params, batches, loss_fn=loss_fn, hf_loss=hf_loss)
                qvecs.append(torch.cat([g[k].reshape(-1) for k in params]))
        q = torch.stack(qvecs, dim=1)  # (n_params, n_queries)

        def fn(batch: dict[str, Any]) -> torch.Tensor:
            grads = per_example_gradients(model, params, batch, loss_fn=loss_fn, hf_loss=hf_loss)
            return (grads @ q).double()

        with renamed_missing_labels("train dataset"):
            row_idx, values = sweep(ordered_loader(train, cfg.batch_size, collate_fn), fn, accelerator, device)
    result = AttributionResult(
        method="grad_dot",
        scores=values,
        row_idx=row_idx,
        query_ids=[g for g, _ in groups],
        score_semantics="gradient dot product; positive = proponent",
        config=cfg.to_dict(),
        extra={"seconds": round(time.perf_counter() - t0, 4), "n_params": int(q.shape[0])},
    )
    result.check_finite()
    return result
