"""[`ForwardInfCallback`]: Forward-INF attribution from inside a `Trainer` run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from ..attribution.forward_inf import ForwardInfConfig, forward_inf_scores
from ..attribution.result import AttributionResult
from ..core.errors import ConfigError
from ..core.gradients import LossFn
from ..core.registry import MethodResult
from .base import ScoringCallback

__all__ = ["ForwardInfCallback"]


class ForwardInfCallback(ScoringCallback):
    """Score the training set with Forward-INF for the given test examples (or the eval set as one group).

    For each test example (or group) the callback takes the configured update on a copy of the trainable
    parameters (the adapters of a peft model), runs ordered forward passes over the training set, and writes a
    train x query score matrix (`scores.safetensors`, `scores.parquet`, `top_k.parquet`, `meta.json`) under
    `<output_dir>/forward_inf/<event>-step<N>/`. Positive = proponent. In group mode on the eval set,
    `harm = -score` ranks likely mislabeled training rows first. The live model and optimizer are never
    modified, so the training run is bit-identical with and without the callback. Works with `trl`'s
    `SFTTrainer` and under `accelerate launch` (train set sharded, results gathered, main process writes).

    Args:
        test_dataset (`datasets.Dataset`, *optional*): the queries, tokenized like the training set, with
            labels (or a collator that makes them); default the trainer's eval set.
        config ([`~hf_datavalue.attribution.ForwardInfConfig`], *optional*): the update and the mode; default
            `ForwardInfConfig()` (one signed SGD descent step at lr 1e-3 per test example).
        loss_fn (`LossFn`, *optional*): per-example loss for a model that is not a transformers model.
        query_groups (`Mapping[str, Sequence[int]]`, *optional*): group mode: named groups of test row keys.
        **kwargs: [`ScoringCallback`] arguments (`train_dataset`, `score_on`, `every_n_steps`, `output_dir`,
            `batch_size`, `collate_fn`, `trainer`, `overwrite`, `save`).

    Usage:

    ```python
    from hf_datavalue.trainer_callbacks import ForwardInfCallback

    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds)
    trainer.add_callback(ForwardInfCallback(test_ds.select(range(8)), trainer=trainer))
    trainer.train()  # results in args.output_dir/forward_inf/train_end-step<N>/
    ```
    """

    method = "forward_inf"

    def __init__(
        self,
        test_dataset: Any = None,
        config: ForwardInfConfig | None = None,
        *,
        loss_fn: LossFn | None = None,
        query_groups: Mapping[str, Sequence[int]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.test_dataset = test_dataset
        self.config = config or ForwardInfConfig()
        self.loss_fn = loss_fn
        self.query_groups = query_groups

    def compute(
        self,
        model: nn.Module,
        train_dataset: Any,
        *,
        collate_fn: Callable[..., Any] | None,
        accelerator: Any,
        batch_size: int,
        eval_dataset: Any,
    ) -> AttributionResult:
        test = self.test_dataset if self.test_dataset is not None else eval_dataset
        if test is None:
            raise ConfigError("ForwardInfCallback needs test_dataset= or a trainer with an eval_dataset")
        # the batch size the base class resolved (the callback's, else the Trainer's eval batch size)
        cfg = ForwardInfConfig.from_dict({**self.config.to_dict(), "batch_size": batch_size})
        return forward_inf_scores(
            model,
            train_dataset,
            test,
            cfg,
            loss_fn=self.loss_fn,
            collate_fn=collate_fn,
            query_groups=self.query_groups,
            accelerator=accelerator,
        )

    def summary(self, result: MethodResult) -> dict[str, float]:
        out = super().summary(result)
        assert isinstance(result, AttributionResult)
        out["forward_inf/n_queries"] = float(result.n_queries)
        out["forward_inf/seconds"] = float(result.extra.get("seconds", 0.0))
        out["forward_inf/frac_positive"] = float(np.mean(result.scores > 0))
        return out
