"""Infrastructure of the scoring callbacks: when to score, with which loader, who writes.

[`ScoringCallback`] is the base class of every callback that values or attributes training data during or
after a `Trainer` run (Forward-INF now, FastTrack later). A subclass implements only [`ScoringCallback.compute`];
the base class

- fires at train end, on evaluate, and/or every N optimizer steps;
- resolves the trainer's training set (or a given one), its data collator and its accelerator;
- scores through its *own* ordered loader carrying a `row_idx` column (the Trainer's column pruning never sees
  it), sharded by `accelerator.prepare_data_loader` and gathered with `gather_for_metrics`, so every process
  makes the same collective calls and gets the same table;
- never steps or mutates the live optimizer or model, and leaves the global RNG as it found it, so training
  is bit-identical with and without the callback;
- writes results only on the main process, under `<output_dir>/<method>/<event>-step<N>/`, and logs a short
  summary through the Trainer's logging.

The Trainer handle is not passed to callbacks. Pass it (`trainer=` or [`ScoringCallback.attach`]) to use the
trainer's own accelerator, collator and datasets; without it the callback falls back to the collator of the
training dataloader (or padding with the processing class) and a shared `Accelerator()`.

Usage:

```python
trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds)
trainer.add_callback(MyScoringCallback(score_on=("train_end",), trainer=trainer))
trainer.train()
```
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..core.errors import ConfigError, NonFiniteError
from ..core.registry import MethodResult, result_provenance

logger = logging.getLogger(__name__)

__all__ = ["ScoringCallback"]

EVENTS = ("train_end", "evaluate", "steps")


class ScoringCallback(TrainerCallback, ABC):
    """Base class: score the training set at chosen Trainer events through an own, row-keyed loader.

    Args:
        train_dataset (`datasets.Dataset`, *optional*): rows to score; default the trainer's training set.
        score_on (`Sequence[str]`, *optional*, defaults to `("train_end",)`): any of `"train_end"`, `"evaluate"`
            and `"steps"` (every `every_n_steps` optimizer steps).
        every_n_steps (`int`, *optional*): interval for `"steps"`.
        output_dir (`str`, *optional*): root of the result folders; default `args.output_dir`. Results go to
            `<output_dir>/<method>/<event>-step<global_step>/`.
        batch_size (`int`, *optional*): sweep batch size; default `args.per_device_eval_batch_size`.
        collate_fn (`Callable`, *optional*): collator of the scoring loader; default the trainer's.
        trainer ([`~transformers.Trainer`], *optional*): the trainer, for its accelerator, collator and datasets.
        overwrite (`bool`, *optional*, defaults to `False`): replace results already in a result folder.
        save (`bool`, *optional*, defaults to `True`): write result files (main process only).
        raise_on_nonfinite (`bool`, *optional*, defaults to `False`): raise when the scores are NaN/inf; by
            default the problem is logged (and recorded in `errors`), nothing is written, and training goes on.

    Usage:

    ```python
    trainer.add_callback(MyScoringCallback(score_on=("evaluate",), trainer=trainer))
    ```
    """

    method: str = "scores"

    def __init__(
        self,
        train_dataset: Any = None,
        *,
        score_on: Sequence[str] = ("train_end",),
        every_n_steps: int | None = None,
        output_dir: str | None = None,
        batch_size: int | None = None,
        collate_fn: Callable[..., Any] | None = None,
        trainer: Any = None,
        overwrite: bool = False,
        save: bool = True,
        raise_on_nonfinite: bool = False,
    ):
        if isinstance(score_on, str):
            score_on = (score_on,)
        unknown = [e for e in score_on if e not in EVENTS]
        if unknown or not score_on:
            raise ConfigError(f"score_on must be a non-empty subset of {EVENTS}, got {list(score_on)}")
        if "steps" in score_on and (every_n_steps is None or int(every_n_steps) < 1):
            raise ConfigError("score_on='steps' needs every_n_steps >= 1")
        if batch_size is not None and int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        self.train_dataset = train_dataset
        self.score_on = tuple(score_on)
        self.every_n_steps = every_n_steps
        self.output_dir = output_dir
        self.batch_size = batch_size
        self.collate_fn = collate_fn
        self.trainer = trainer
        self.overwrite = overwrite
        self.save = save
        self.raise_on_nonfinite = raise_on_nonfinite
        self.errors: list[tuple[str, int, str]] = []
        self.results: list[tuple[str, int, MethodResult]] = []
        self.written: list[Path] = []
        self._fallback_collate: Callable[..., Any] | None = None
        self._fallback_train: Any = None
        self._fallback_eval: Any = None
        self._accelerator: Any = None

    def attach(self, trainer: Any) -> ScoringCallback:
        """Register on `trainer` and keep its handle; returns `self`."""
        self.trainer = trainer
        trainer.add_callback(self)
        return self

    # -- to implement -------------------------------------------------------------------------------------------
    @abstractmethod
    def compute(
        self,
        model: nn.Module,
        train_dataset: Any,
        *,
        collate_fn: Callable[..., Any] | None,
        accelerator: Any,
        batch_size: int,
        eval_dataset: Any,
    ) -> MethodResult:
        """Score `train_dataset` with `batch_size` rows per forward pass (the callback's `batch_size`, else the
        Trainer's `per_device_eval_batch_size`); must make the same collective calls on every process.
        Returns any result of the method contract."""

    def summary(self, result: MethodResult) -> dict[str, float]:
        """A few numbers logged through the Trainer after each scoring run (any result of the method contract)."""
        table = result.to_dataset()
        score_column = result_provenance(result).score_column
        return {
            f"{self.method}/n_rows": float(len(table)),
            f"{self.method}/mean_score": float(np.mean(np.asarray(table[score_column], dtype=np.float64))),
        }

    # -- resolution of trainer pieces ---------------------------------------------------------------------------
    def _get_accelerator(self) -> Any:
        if self.trainer is not None and getattr(self.trainer, "accelerator", None) is not None:
            return self.trainer.accelerator
        if self._accelerator is None:
            from accelerate import Accelerator

            self._accelerator = Accelerator()
        return self._accelerator

    def _get_collate(self) -> Callable[..., Any] | None:
        if self.collate_fn is not None:
            return self.collate_fn
        if self.trainer is not None and getattr(self.trainer, "data_collator", None) is not None:
            return self.trainer.data_collator
        return self._fallback_collate

    def _get_train(self) -> Any:
        if self.train_dataset is not None:
            return self.train_dataset
        if self.trainer is not None and getattr(self.trainer, "train_dataset", None) is not None:
            return self.trainer.train_dataset
        if self._fallback_train is not None:
            return self._fallback_train
        raise ConfigError(f"{type(self).__name__}: no training set; pass train_dataset= or trainer=")

    def _get_eval(self) -> Any:
        if self.trainer is not None and getattr(self.trainer, "eval_dataset", None) is not None:
            ds = self.trainer.eval_dataset
            if isinstance(ds, dict):
                raise ConfigError("the trainer has several eval datasets; pass the query set explicitly")
            return ds
        return self._fallback_eval

    def _remember(self, kwargs: dict[str, Any]) -> None:
        loader = kwargs.get("train_dataloader")
        if loader is not None:
            self._fallback_collate = self._fallback_collate or getattr(loader, "collate_fn", None)
            self._fallback_train = self._fallback_train or getattr(loader, "dataset", None)
        eval_loader = kwargs.get("eval_dataloader")
        if eval_loader is not None and getattr(eval_loader, "dataset", None) is not None:
            self._fallback_eval = eval_loader.dataset
        if self._fallback_collate is None and kwargs.get("processing_class") is not None:
            proc = kwargs["processing_class"]
            if hasattr(proc, "pad"):
                from transformers import DataCollatorWithPadding

                self._fallback_collate = DataCollatorWithPadding(proc)

    # -- events -------------------------------------------------------------------------------------------------
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        self._remember(kwargs)
        return control

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if "steps" in self.score_on and self.every_n_steps and state.global_step % int(self.every_n_steps) == 0:
            self._run("steps", args, state, kwargs)
        return control

    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if "evaluate" in self.score_on:
            self._run("evaluate", args, state, kwargs)
        return control

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if "train_end" in self.score_on:
            self._run("train_end", args, state, kwargs)
        return control

    def _run(self, event: str, args: TrainingArguments, state: TrainerState, kwargs: dict[str, Any]) -> None:
        self._remember(kwargs)
        model = kwargs.get("model")
        if model is None and self.trainer is not None:
            model = self.trainer.model
        if model is None:
            raise ConfigError(f"{type(self).__name__}: the Trainer passed no model")
        accelerator = self._get_accelerator()
        model = accelerator.unwrap_model(model)
        step = int(state.global_step)
        try:
            result = self.compute(
                model,
                self._get_train(),
                collate_fn=self._get_collate(),
                accelerator=accelerator,
                batch_size=int(self.batch_size or args.per_device_eval_batch_size),
                eval_dataset=self._get_eval(),
            )
        except NonFiniteError as err:
            # Every process computes the same update, so every process takes this branch together.
            if self.raise_on_nonfinite:
                raise
            self.errors.append((event, step, str(err)))
            logger.error("%s at %s (step %d): scores not written: %s", self.method, event, step, err)
            return
        extra = getattr(result, "extra", None)
        if isinstance(extra, dict):
            extra.update({"event": event, "global_step": step, "epoch": math.floor(state.epoch or 0)})
        self.results.append((event, step, result))
        if self.save and state.is_world_process_zero:
            root = Path(self.output_dir or args.output_dir or ".") / self.method
            path = result.save(root / f"{event}-step{step}", overwrite=self.overwrite)
            self.written.append(path)
            logger.info("%s: wrote %s", self.method, path)
        summary = self.summary(result)
        if self.trainer is not None and hasattr(self.trainer, "log"):
            self.trainer.log(summary)
        else:
            logger.info("%s at %s (step %d): %s", self.method, event, step, summary)
