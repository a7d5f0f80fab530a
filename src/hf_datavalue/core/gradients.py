"""Per-example losses and gradients of a model on a subset of its parameters, without touching the model.

Everything here works on a *functional* view of the model: parameters are passed as a dict of tensors to
`torch.func.functional_call`, so updates live in tensors of their own and the live module (its parameters,
buffers and `.grad` fields) is never written. There is no Trainer dependency; the attribution methods and the
Trainer callbacks build on these functions.

A loss is always *per example*, in float32 or wider, so loss differences at small learning rates do not cancel
out in bf16. Two loss sources are supported:

- a HuggingFace model (`PreTrainedModel` or a `peft.PeftModel`): the loss is computed from the `logits` and the
  batch's `labels` by [`HFPerExampleLoss`] (sequence classification, regression, causal LM with shifted labels,
  masked LM / token classification; token losses are averaged over label tokens, or summed);
- any `torch.nn.Module` with a user function `loss_fn(model, batch) -> Tensor[batch]` that calls `model(...)`
  (the functional model is passed in, so the function never sees the live parameters).

Usage:

```python
import torch
from hf_datavalue.core.gradients import per_example_loss, select_parameters

model = torch.nn.Linear(4, 3)
loss_fn = lambda m, b: torch.nn.functional.cross_entropy(m(b["x"]), b["y"], reduction="none")
params = select_parameters(model)
batch = {"x": torch.randn(5, 4), "y": torch.tensor([0, 1, 2, 0, 1])}
losses = per_example_loss(model, batch, loss_fn=loss_fn, params=params)  # shape (5,)
```
"""

from __future__ import annotations

import fnmatch
import inspect
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import ConfigError, MissingColumnError, NonFiniteError

logger = logging.getLogger(__name__)

__all__ = [
    "HFPerExampleLoss",
    "LossFn",
    "batch_size_of",
    "forward_signature_columns",
    "functional_model",
    "is_hf_model",
    "per_example_gradients",
    "per_example_loss",
    "query_gradient",
    "select_parameters",
]

LossFn = Callable[[Callable[..., Any], Mapping[str, Any]], torch.Tensor]
"""`loss_fn(model, batch) -> Tensor[batch_size]`: per-example losses; `model` is a callable module view."""

LABEL_KEYS: tuple[str, ...] = ("labels", "label", "label_ids")
TASKS: tuple[str, ...] = ("auto", "sequence_classification", "causal_lm", "masked_lm", "token_classification")


def is_hf_model(model: nn.Module) -> bool:
    """True for a transformers `PreTrainedModel` or a `peft` model wrapping one."""
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is a core dependency
        return False
    base = _base_model(model)
    return isinstance(model, PreTrainedModel) or isinstance(base, PreTrainedModel)


def _base_model(model: nn.Module) -> nn.Module:
    """The transformers model inside a peft wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    if callable(get_base):
        try:
            base = get_base()
            if isinstance(base, nn.Module):
                return base
        except Exception:  # noqa: BLE001 - not a peft model after all
            pass
    return model


def forward_signature_columns(model: nn.Module) -> list[str] | None:
    """Argument names of the model's `forward` (peft-aware); `None` when it takes `**kwargs` (accepts anything)."""
    forward = _base_model(model).forward
    params = inspect.signature(forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [name for name in params if name != "self"]


def select_parameters(model: nn.Module, patterns: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """The parameters to update: every trainable one, or those whose name matches one of `patterns`.

    For a `peft.PeftModel` the trainable parameters are the adapter weights (plus `modules_to_save`), so only
    they are selected by default. Patterns are `fnmatch` globs (`"*lora_*"`, `"classifier.*"`) or plain
    substrings, and only trainable parameters are ever selected.

    Raises:
        ConfigError: the model has no trainable parameter, or no trainable parameter matches `patterns`.
    """
    trainable: dict[str, torch.Tensor] = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if not trainable:
        raise ConfigError(
            "the model has no trainable parameters (requires_grad=False everywhere), so it cannot be updated; "
            "unfreeze the parameters to score with"
        )
    pats = list(patterns or [])
    if not pats:
        return trainable
    chosen: dict[str, torch.Tensor] = {
        n: p for n, p in trainable.items() if any(fnmatch.fnmatchcase(n, pat) or pat in n for pat in pats)
    }
    if not chosen:
        raise ConfigError(f"no trainable parameter matches {pats}; some trainable names: {list(trainable)[:8]}")
    return chosen


def batch_size_of(batch: Mapping[str, Any]) -> int:
    """The leading dimension of the first tensor in `batch`."""
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    raise ConfigError(f"batch has no tensor to take its size from; keys: {list(batch)}")


def functional_model(model: nn.Module, params: Mapping[str, torch.Tensor] | None) -> Callable[..., Any]:
    """A callable that runs `model` with `params` substituted (the rest of its state is used as is)."""
    if not params:
        return model

    def call(*args: Any, **kwargs: Any) -> Any:
        return torch.func.functional_call(model, dict(params), args, kwargs, strict=False)

    return call


@dataclass
class HFPerExampleLoss:
    """Per-example loss of a transformers model from its `logits` and the batch's `labels`.

    Args:
        task (`str`, *optional*, defaults to `"auto"`): `"sequence_classification"` (cross-entropy, or MSE when
            the model has one output and float labels), `"causal_lm"` (next-token loss, labels shifted by one),
            `"masked_lm"` / `"token_classification"` (token loss, no shift); `"auto"` picks from the model class.
        token_reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` over label tokens (not `-100`) or
            `"sum"`, for token-level tasks.
        ignore_index (`int`, *optional*, defaults to `-100`): label value excluded from token losses.
    """

    task: str = "auto"
    token_reduction: str = "mean"
    ignore_index: int = -100

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.token_reduction not in ("mean", "sum"):
            raise ConfigError(f"token_reduction must be 'mean' or 'sum', got {self.token_reduction!r}")

    def resolve_task(self, model: nn.Module) -> str:
        if self.task != "auto":
            return self.task
        name = type(_base_model(model)).__name__
        if "CausalLM" in name or "LMHead" in name:
            return "causal_lm"
        if "MaskedLM" in name:
            return "masked_lm"
        if "TokenClassification" in name:
            return "token_classification"
        return "sequence_classification"

    def __call__(self, model: nn.Module, call: Callable[..., Any], batch: Mapping[str, Any]) -> torch.Tensor:
        labels = None
        inputs: dict[str, Any] = {}
        for key, value in batch.items():
            if key in LABEL_KEYS:
                labels = value
            else:
                inputs[key] = value
        if labels is None:
            raise MissingColumnError("batch", "labels", list(batch))
        accepted = forward_signature_columns(model)
        if accepted is not None:
            inputs = {k: v for k, v in inputs.items() if k in accepted}
        outputs = call(**inputs)
        logits = outputs.get("logits") if isinstance(outputs, Mapping) else getattr(outputs, "logits", None)
        if logits is None:
            raise ConfigError(
                f"{type(model).__name__} returns no logits, so no loss can be computed; use a model with a head "
                "(e.g. AutoModelForSequenceClassification) or pass loss_fn"
            )
        logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
        task = self.resolve_task(model)
        if task == "sequence_classification":
            if logits.shape[-1] == 1 and labels.is_floating_point():
                return (logits.squeeze(-1) - labels.to(logits.dtype)) ** 2
            return nn.functional.cross_entropy(logits, labels.long(), reduction="none")
        if task == "causal_lm":
            logits, labels = logits[:, :-1, :], labels[:, 1:]
        tok = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            labels.reshape(-1).long(),
            ignore_index=self.ignore_index,
            reduction="none",
        ).view(labels.shape)
        mask = (labels != self.ignore_index).to(tok.dtype)
        total = (tok * mask).sum(dim=1)
        if self.token_reduction == "sum":
            return total
        return total / mask.sum(dim=1).clamp_min(1.0)


def per_example_loss(
    model: nn.Module,
    batch: Mapping[str, Any],
    loss_fn: LossFn | None = None,
    params: Mapping[str, torch.Tensor] | None = None,
    hf_loss: HFPerExampleLoss | None = None,
) -> torch.Tensor:
    """Per-example losses (shape `(batch,)`, float32 or wider) of `model` with `params` substituted.

    Args:
        model (`torch.nn.Module`): the model; never written to.
        batch (`Mapping[str, Any]`): one collated batch (tensors on the model's device).
        loss_fn (`LossFn`, *optional*): `loss_fn(model, batch) -> Tensor[batch]`; required for a plain module.
        params (`Mapping[str, Tensor]`, *optional*): parameters to substitute (others are taken from the model).
        hf_loss (`HFPerExampleLoss`, *optional*): the loss rule for transformers models (default: auto task).

    Raises:
        ConfigError: a plain module without `loss_fn`, or a loss of the wrong shape.
    """
    call = functional_model(model, params)
    if loss_fn is not None:
        losses = loss_fn(call, batch)
    elif is_hf_model(model):
        losses = (hf_loss or HFPerExampleLoss())(model, call, batch)
    else:
        raise ConfigError(
            f"{type(model).__name__} is not a transformers model: pass loss_fn(model, batch) -> per-example losses"
        )
    if not isinstance(losses, torch.Tensor) or losses.dim() != 1 or losses.shape[0] != batch_size_of(batch):
        shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
        raise ConfigError(f"the loss must be one value per example (shape (batch,)), got {shape}")
    if losses.dtype in (torch.float16, torch.bfloat16):
        losses = losses.float()
    return losses


def query_gradient(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batches: Iterable[Mapping[str, Any]],
    loss_fn: LossFn | None = None,
    hf_loss: HFPerExampleLoss | None = None,
    fixed: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Gradient of the *mean* per-example loss over all examples in `batches`, w.r.t. `params` (a dict).

    The gradient is taken on detached copies, so no `.grad` field of the model is touched. `fixed` substitutes
    further tensors (e.g. a float32 copy of a half-precision model's other weights) without differentiating them.

    Raises:
        NonFiniteError: the loss or its gradient is not finite.
    """
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    total: dict[str, torch.Tensor] = {k: torch.zeros_like(v) for k, v in leaves.items()}
    count = 0
    for batch in batches:
        call_params = {**fixed, **leaves} if fixed else leaves
        losses = per_example_loss(model, batch, loss_fn=loss_fn, params=call_params, hf_loss=hf_loss)
        if not torch.isfinite(losses).all():
            raise NonFiniteError("the query loss is not finite; check the model and the query labels")
        grads = torch.autograd.grad(losses.sum(), list(leaves.values()), allow_unused=True)
        for (name, _), grad in zip(leaves.items(), grads):
            if grad is not None:
                total[name] += grad
        count += losses.shape[0]
    if count == 0:
        raise ConfigError("the query set is empty")
    return {k: v / count for k, v in total.items()}


def per_example_gradients(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batch: Mapping[str, Any],
    loss_fn: LossFn | None = None,
    hf_loss: HFPerExampleLoss | None = None,
    vectorize: bool = True,
) -> torch.Tensor:
    """Flattened per-example gradients, shape `(batch, n_params)`.

    With `vectorize=True` the gradients come from `torch.func.vmap(torch.func.grad(...))` over the batch; models
    whose forward cannot be vmapped (data-dependent control flow, some attention kernels) fall back to one
    backward pass per example, which works with every model.
    """
    leaves = {k: v.detach() for k, v in params.items()}
    out = None
    if vectorize and model not in _NO_VMAP:
        try:
            out = _vmap_gradients(model, leaves, batch, loss_fn, hf_loss)
        except Exception as err:  # noqa: BLE001 - any vmap limitation: use the loop from now on
            _NO_VMAP.add(model)
            logger.debug("per-example gradients: vmap failed (%s); looping over examples", err)
    if out is None:
        out = _loop_gradients(model, leaves, batch, loss_fn, hf_loss)
    if not torch.isfinite(out).all():
        raise NonFiniteError("per-example gradients are not finite")
    return out


_NO_VMAP: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def _vmap_gradients(
    model: nn.Module,
    leaves: Mapping[str, torch.Tensor],
    batch: Mapping[str, Any],
    loss_fn: LossFn | None,
    hf_loss: HFPerExampleLoss | None,
) -> torch.Tensor:
    tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() > 0}
    others = {k: v for k, v in batch.items() if k not in tensors}

    def single(p: dict[str, torch.Tensor], sample: dict[str, torch.Tensor]) -> torch.Tensor:
        one = {**others, **{k: v.unsqueeze(0) for k, v in sample.items()}}
        return per_example_loss(model, one, loss_fn=loss_fn, params=p, hf_loss=hf_loss).sum()

    grads = torch.func.vmap(torch.func.grad(single), in_dims=(None, 0))(dict(leaves), tensors)
    return torch.cat([grads[k].reshape(grads[k].shape[0], -1) for k in leaves], dim=1)


def _loop_gradients(
    model: nn.Module,
    leaves: Mapping[str, torch.Tensor],
    batch: Mapping[str, Any],
    loss_fn: LossFn | None,
    hf_loss: HFPerExampleLoss | None,
) -> torch.Tensor:
    n = batch_size_of(batch)
    live = {k: v.clone().requires_grad_(True) for k, v in leaves.items()}
    rows = []
    for i in range(n):
        single = {k: (v[i : i + 1] if isinstance(v, torch.Tensor) and v.dim() > 0 else v) for k, v in batch.items()}
        loss = per_example_loss(model, single, loss_fn=loss_fn, params=live, hf_loss=hf_loss).sum()
        grads = torch.autograd.grad(loss, list(live.values()), allow_unused=True)
        rows.append(
            torch.cat(
                [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, live.values())]
            )
        )
    return torch.stack(rows)
