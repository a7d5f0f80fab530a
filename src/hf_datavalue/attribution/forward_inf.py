"""Forward-INF: score training rows by how their loss changes when the model learns (or unlearns) a query.

For a trained model and a query `T` (one test example, or a group scored together) Forward-INF takes a small,
configured update on the loss of `T` on a *copy of the trainable parameters only*, then runs ordered forward
passes over the training set: `score_i = L(z_i; θ) - L(z_i; θ')` (descent; ascent reports `L(z_i; θ') - L(z_i;
θ)`), so **positive = proponent** in both directions. Ko et al., "The Mirrored Influence Hypothesis", CVPR 2024.

To first order one SGD step gives `lr * ∇L(z_i)ᵀ∇L(T)`, i.e. the gradient dot product (TracIn at one
checkpoint); the estimator does *not* approximate leave-one-out retraining (about 0.54 Pearson against exact
LOO on a convex model). Its advantage is operational: forward passes only, no stored gradients, and a group
mode that costs one update plus one sweep. `mode="jvp"` returns the `lr -> 0` limit `score / lr` in one
forward-mode pass per training batch (attention runs on SDPA's math kernel during it, as forward-mode AD has no
flash kernel).

Half-precision (bf16/fp16) models are scored on a float32 copy of their weights (`compute_dtype="auto"`): a
bf16 step of lr 1e-3 mostly rounds away. This costs 4 bytes per parameter while scoring; see
[`~hf_datavalue.attribution._precision`].

Usage:

```python
from hf_datavalue.attribution import ForwardInfConfig, forward_inf_scores

result = forward_inf_scores(model, train_ds, test_ds, ForwardInfConfig(lr=1e-3, mode="per_query"))
result.save("outputs/forward_inf")
result.top_k(5)
```
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import ConfigError, NonFiniteError
from ..core.gradients import HFPerExampleLoss, LossFn, per_example_loss, query_gradient, select_parameters
from ..core.row_loader import ordered_loader, sweep
from ._common import model_device, prepare_pair, query_batches, renamed_missing_labels, scoring_mode
from ._config import JSONConfigMixin
from ._precision import COMPUTE_DTYPES, cast_batch, float32_state, forward_ad_attention, master_dtype, needs_upcast
from .result import AttributionResult

logger = logging.getLogger(__name__)

__all__ = ["ForwardInfConfig", "forward_inf_scores"]

OPTIMIZERS = ("sgd", "adam")
DIRECTIONS = ("descent", "ascent")
MODES = ("per_query", "group", "jvp")


@dataclass
class ForwardInfConfig(JSONConfigMixin):
    """Configuration of [`forward_inf_scores`] and [`~hf_datavalue.trainer_callbacks.ForwardInfCallback`].

    Args:
        lr (`float`, *optional*, defaults to `1e-3`): learning rate of the update on the query loss.
        steps (`int`, *optional*, defaults to `1`): number of update steps.
        optimizer (`str`, *optional*, defaults to `"sgd"`): `"sgd"` or `"adam"` (fresh state; one Adam step is a
            sign step; the reference uses one ascent step at lr 5e-3).
        direction (`str`, *optional*, defaults to `"descent"`): `"descent"` (learn the query) or `"ascent"`
            (unlearn it, as the reference); positive = proponent either way.
        signed (`bool`, *optional*, defaults to `True`): `False` reports `|Δloss|` (the reference's choice,
            merges proponents and opponents).
        mode (`str`, *optional*, defaults to `"per_query"`): `"per_query"` (one update per test example),
            `"group"` (one update on the whole test set, or on each of `query_groups`), `"jvp"` (per query, the
            `lr -> 0` limit `score / lr` by forward-mode AD; `steps` must be 1).
        params (`list[str]`, *optional*): name globs/substrings of the parameters to update; default every
            trainable parameter (the adapters of a peft model).
        task (`str`, *optional*, defaults to `"auto"`): loss rule for transformers models (see
            [`~hf_datavalue.core.gradients.HFPerExampleLoss`]).
        token_reduction (`str`, *optional*, defaults to `"mean"`): `"mean"` or `"sum"` over label tokens.
        batch_size (`int`, *optional*, defaults to `32`): batch size of the forward sweeps over the train set.
        query_chunk_size (`int`, *optional*, defaults to `8`): queries whose updated parameters are held at once
            and scored in the same sweep (memory: this many copies of the updated subset).
        top_k (`int`, *optional*, defaults to `10`): rows per query in `top_k.parquet`.
        compute_dtype (`str`, *optional*, defaults to `"auto"`): `"auto"` scores a float16/bfloat16 model on a
            float32 copy of its weights (4 bytes per parameter while scoring, twice a bf16 model's weights, plus
            4 bytes per updated parameter per query in a chunk) so that the update and the loss change survive;
            `"model"` keeps the model's own dtype (a bf16 step at lr 1e-3 mostly rounds away).
    """

    method = "forward_inf"

    lr: float = field(default=1e-3, metadata={"help": "learning rate of the update on the query loss"})
    steps: int = field(default=1, metadata={"help": "number of update steps"})
    optimizer: str = field(default="sgd", metadata={"help": "'sgd' or 'adam' (fresh state)"})
    direction: str = field(default="descent", metadata={"help": "'descent' (learn the query) or 'ascent' (unlearn)"})
    signed: bool = field(default=True, metadata={"help": "False reports |Δloss| (reference behaviour)"})
    mode: str = field(default="per_query", metadata={"help": "'per_query', 'group' or 'jvp'"})
    params: list[str] | None = field(default=None, metadata={"help": "globs of parameters to update"})
    task: str = field(default="auto", metadata={"help": "loss rule for transformers models"})
    token_reduction: str = field(default="mean", metadata={"help": "'mean' or 'sum' over label tokens"})
    batch_size: int = field(default=32, metadata={"help": "batch size of the train sweeps"})
    query_chunk_size: int = field(default=8, metadata={"help": "queries scored per train sweep"})
    top_k: int = field(default=10, metadata={"help": "rows per query in top_k.parquet"})
    compute_dtype: str = field(
        default="auto", metadata={"help": "'auto' (float32 copy of a bf16/fp16 model while scoring) or 'model'"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.lr, (int, float)) and np.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a finite positive number, got {self.lr!r}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {self.steps!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ConfigError(f"compute_dtype must be one of {COMPUTE_DTYPES}, got {self.compute_dtype!r}")
        if self.mode == "jvp" and self.steps != 1:
            raise ConfigError("mode='jvp' is the small-lr limit of one step; set steps=1")
        for name in ("batch_size", "query_chunk_size", "top_k"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        self.hf_loss()  # validates task and token_reduction

    def hf_loss(self) -> HFPerExampleLoss:
        return HFPerExampleLoss(task=self.task, token_reduction=self.token_reduction)

    def semantics(self) -> str:
        if not self.signed:
            # |Δloss| merges rows whose loss fell with rows whose loss rose: -score is no harm ranking.
            base = "absolute loss change |Δloss| (proponents and opponents merged); higher = more influenced"
            if self.mode == "group":
                base += "; group mode: not a mislabel ranking (use signed=True, where harm = -score)"
        else:
            base = "positive = proponent (training the model on the query lowers this row's loss)"
            if self.mode == "group":
                base += "; group mode: harm = -score ranks likely mislabeled rows first"
        if self.mode == "jvp":
            base += "; jvp mode: score / lr in the lr -> 0 limit"
        return base


def _updated_params(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    batches: Sequence[Mapping[str, Any]],
    cfg: ForwardInfConfig,
    loss_fn: LossFn | None,
    fixed: Mapping[str, torch.Tensor] | None = None,
    exact: bool = False,
) -> dict[str, torch.Tensor]:
    """Master copies (float32 or wider; float64 when `exact`) of the parameters after `cfg.steps` steps of a fresh
    optimizer on the query loss. Gradients are taken at the master values cast to the parameters' own dtypes,
    with `fixed` substituted for the other weights; the model is not touched."""
    current = {k: v.detach().to(master_dtype(v.dtype, exact)).clone() for k, v in params.items()}
    leaves = list(current.values())
    opt: torch.optim.Optimizer
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(leaves, lr=cfg.lr)
    else:
        opt = torch.optim.Adam(leaves, lr=cfg.lr)
    sign = 1.0 if cfg.direction == "descent" else -1.0
    for step in range(int(cfg.steps)):
        try:
            with renamed_missing_labels("test dataset"):
                at = {k: current[k].to(params[k].dtype) for k in current}
                grads = query_gradient(model, at, batches, loss_fn=loss_fn, hf_loss=cfg.hf_loss(), fixed=fixed)
        except NonFiniteError as err:
            if step == 0:
                raise
            raise NonFiniteError(
                f"the query loss became NaN/inf at update step {step + 1} (lr={cfg.lr}, steps={cfg.steps}); lower them"
            ) from err
        for name, leaf in current.items():
            leaf.grad = sign * grads[name].to(leaf.dtype)
        opt.step()
        opt.zero_grad(set_to_none=True)
    for name, leaf in current.items():
        if not torch.isfinite(leaf).all():
            raise NonFiniteError(
                f"parameter {name!r} is NaN/inf after the update (lr={cfg.lr}, steps={cfg.steps}); lower them"
            )
    return {k: v.detach() for k, v in current.items()}


def forward_inf_scores(
    model: nn.Module,
    train_dataset: Any,
    test_dataset: Any,
    config: ForwardInfConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    collate_fn: Callable[..., Any] | None = None,
    query_groups: Mapping[str, Sequence[int]] | None = None,
    accelerator: Any = None,
) -> AttributionResult:
    """Forward-INF scores of every training row for each test example (or group of test examples).

    The model is put in eval mode during scoring (BatchNorm frozen, dropout off) and restored afterwards; its
    parameters, buffers and `.grad` fields are never written, and the global RNG is left as it was.

    Args:
        model (`torch.nn.Module`): a transformers model, a peft model (only adapters move), or any module with
            `loss_fn`.
        train_dataset: a `datasets.Dataset` (or a sequence of dict rows) to score; a `row_idx` column, if present,
            is used as the row key.
        test_dataset: the queries, with labels.
        config (`ForwardInfConfig`, *optional*): defaults to `ForwardInfConfig()`.
        loss_fn (`LossFn`, *optional*): `loss_fn(model, batch) -> Tensor[batch]` for plain modules.
        collate_fn (`Callable`, *optional*): the collator (default `transformers.default_data_collator`).
        query_groups (`Mapping[str, Sequence[int]]`, *optional*): group mode only: named groups of test row keys,
            one update each; default one group `"all"` with the whole test set.
        accelerator ([`~accelerate.Accelerator`], *optional*): shard the train sweeps across processes and gather
            with `gather_for_metrics`; every process computes the same (deterministic) updates.

    Returns:
        [`AttributionResult`] with `scores` of shape `(n_train, n_queries)`.

    Raises:
        MissingColumnError: the datasets lack the model's input column, or the test batches have no labels.
        ConfigError: a model that cannot produce a loss, or a bad config.
        NonFiniteError: the update or the scores are NaN/inf.
    """
    cfg = config or ForwardInfConfig()
    if query_groups is not None and cfg.mode != "group":
        raise ConfigError("query_groups is only used with mode='group'")
    train, test = prepare_pair(model, train_dataset, test_dataset, loss_fn)
    device = accelerator.device if accelerator is not None else model_device(model)
    t0 = time.perf_counter()
    with scoring_mode(model):
        params = select_parameters(model, cfg.params)
        n_params = int(sum(p.numel() for p in params.values()))
        upcast = needs_upcast(model, cfg.compute_dtype)
        fixed = float32_state(model) if upcast else {}
        if upcast:
            params = {k: fixed[k] for k in params}
        batch_dtype = torch.float32 if upcast else None
        qbatches = [
            (keys, cast_batch(batch, batch_dtype))
            for keys, batch in query_batches(test, cfg.batch_size if cfg.mode == "group" else 1, collate_fn, device)
        ]
        if cfg.mode == "group":
            groups = _groups(qbatches, query_groups)
        else:
            groups = [(str(keys[0]), [batch]) for keys, batch in qbatches]
        loader = ordered_loader(train, cfg.batch_size, collate_fn)
        ctx = _Scoring(model, params, fixed, batch_dtype, cfg, loss_fn, accelerator, device)
        if cfg.mode == "jvp":
            row_idx, scores, base, new = _jvp_scores(ctx, groups, loader)
        else:
            row_idx, scores, base, new = _delta_scores(ctx, groups, loader)
    result = AttributionResult(
        method="forward_inf",
        scores=scores,
        row_idx=row_idx,
        query_ids=[g for g, _ in groups],
        score_semantics=cfg.semantics(),
        config=cfg.to_dict(),
        base_loss=base,
        new_loss=new,
        extra={
            "n_updated_params": n_params,
            "updated_param_names": sorted(params)[:50],
            "seconds": round(time.perf_counter() - t0, 4),
            "world_size": int(accelerator.num_processes) if accelerator is not None else 1,
            "compute_dtype": "float32 copy" if upcast else str(next(iter(params.values())).dtype)[len("torch.") :],
        },
    )
    result.check_finite()
    return result


def _groups(
    qbatches: list[tuple[list[int], dict[str, Any]]], query_groups: Mapping[str, Sequence[int]] | None
) -> list[tuple[str, list[dict[str, Any]]]]:
    if query_groups is None:
        return [("all", [b for _, b in qbatches])]
    # Regroup single rows: split every batch into rows keyed by row_idx.
    rows: dict[int, dict[str, Any]] = {}
    for keys, batch in qbatches:
        for i, key in enumerate(keys):
            rows[key] = {
                k: (v[i : i + 1] if isinstance(v, torch.Tensor) and v.dim() > 0 else v) for k, v in batch.items()
            }
    out = []
    for name, members in query_groups.items():
        missing = [m for m in members if int(m) not in rows]
        if missing or not members:
            raise ConfigError(f"query group {name!r} names unknown or no test rows: {missing[:5]}")
        out.append((str(name), [rows[int(m)] for m in members]))
    return out


@dataclass
class _Scoring:
    """What every sweep needs: the model, the parameters to move, the (float32) state substituted for the rest."""

    model: nn.Module
    params: Mapping[str, torch.Tensor]
    fixed: Mapping[str, torch.Tensor]
    batch_dtype: torch.dtype | None
    cfg: ForwardInfConfig
    loss_fn: LossFn | None
    accelerator: Any
    device: torch.device

    def loss(self, batch: Mapping[str, Any], subset: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        params = {**self.fixed, **(subset or {})}
        return per_example_loss(self.model, batch, loss_fn=self.loss_fn, params=params or None, hf_loss=self.hf)

    @property
    def hf(self) -> HFPerExampleLoss:
        return self.cfg.hf_loss()

    def update(self, batches: Sequence[Mapping[str, Any]], exact: bool = False) -> dict[str, torch.Tensor]:
        return _updated_params(self.model, self.params, batches, self.cfg, self.loss_fn, self.fixed, exact=exact)

    def sweep(self, loader: Any, fn: Callable[[dict[str, Any]], torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        def run(batch: dict[str, Any]) -> torch.Tensor:
            return fn(cast_batch(batch, self.batch_dtype))

        with renamed_missing_labels("train dataset"):
            return sweep(loader, run, accelerator=self.accelerator, device=self.device)


def _delta_scores(
    ctx: _Scoring, groups: list[tuple[str, list[dict[str, Any]]]], loader: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cfg = ctx.cfg
    base_parts: np.ndarray | None = None
    new_cols: list[np.ndarray] = []
    row_idx: np.ndarray | None = None
    chunk = int(cfg.query_chunk_size)
    for start in range(0, len(groups), chunk):
        deltas = [
            {k: v.to(ctx.params[k].dtype) for k, v in ctx.update(batches).items()}
            for _, batches in groups[start : start + chunk]
        ]
        need_base = base_parts is None

        def fn(batch: dict[str, Any], deltas: list[dict[str, torch.Tensor]] = deltas, need_base: bool = need_base):
            with torch.no_grad():
                outs = [ctx.loss(batch, d) for d in deltas]
                if need_base:
                    outs.insert(0, ctx.loss(batch))
            return torch.stack([o.double() for o in outs], dim=1)

        keys, values = ctx.sweep(loader, fn)
        if need_base:
            base_parts, values = values[:, 0], values[:, 1:]
            row_idx = keys
        new_cols.append(values)
        logger.info("forward_inf: scored queries %d-%d of %d", start, start + len(deltas), len(groups))
    assert base_parts is not None and row_idx is not None
    new = np.concatenate(new_cols, axis=1)
    base = base_parts
    scores = base[:, None] - new if cfg.direction == "descent" else new - base[:, None]
    if not cfg.signed:
        scores = np.abs(scores)
    return row_idx, scores, base, new


def _jvp_scores(
    ctx: _Scoring, groups: list[tuple[str, list[dict[str, Any]]]], loader: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, None]:
    cfg = ctx.cfg
    primals = {k: v.detach() for k, v in ctx.params.items()}
    tangents = []
    for _, batches in groups:
        # The step is taken in float64 master copies, so (updated - primal) / lr is exact even for bf16 weights.
        updated = ctx.update(batches, exact=True)
        tangents.append({k: ((updated[k] - primals[k].double()) / cfg.lr).to(primals[k].dtype) for k in primals})
    sign = -1.0 if cfg.direction == "descent" else 1.0

    def fn(batch: dict[str, Any]) -> torch.Tensor:
        def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
            return ctx.loss(batch, p)

        outs = []
        base = None
        for tangent in tangents:
            value, deriv = torch.func.jvp(f, (primals,), (tangent,))[:2]
            base = value if base is None else base
            outs.append(sign * deriv)
        assert base is not None
        return torch.stack([base.detach().double()] + [o.detach().double() for o in outs], dim=1)

    with forward_ad_attention():
        row_idx, values = ctx.sweep(loader, fn)
    scores = values[:, 1:]
    if not cfg.signed:
        scores = np.abs(scores)
    return row_idx, scores, values[:, 0], None
