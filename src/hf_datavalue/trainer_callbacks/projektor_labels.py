"""A Trainer-based learner for Projektor's performance labels (the adapter side of `projektor.labels`).

Each call draws the mixture's rows from the source `Dataset`s, materialises them in exact per-source quotas with
the library's quota sampler ([`~hf_datavalue.mixing.interleave_datasets`]), trains a fresh model from
`model_init` with `transformers.Trainer`, and evaluates it in eval mode (BatchNorm/dropout off, unlike the
reference's labels, spec pitfall 8).

Usage:

```python
from hf_datavalue.projektor.labels import PerformanceLabels
from hf_datavalue.trainer_callbacks.projektor_labels import trainer_learner

learner = trainer_learner(lambda: AutoModelForSequenceClassification.from_pretrained(path, num_labels=4),
                          [s1, s2, s3], valid, TrainingArguments("out", num_train_epochs=1, report_to=[]))
rows = PerformanceLabels([len(s1), len(s2), len(s3)], learner, "runs/labels").run(grid, sizes=[1000, 1500])
```
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.errors import EmptyDatasetError, MissingColumnError

__all__ = ["trainer_learner"]


def trainer_learner(
    model_init: Callable[[], Any],
    sources: Sequence[Any],
    valid: Any,
    args: Any,
    label_column: str = "labels",
    data_collator: Any | None = None,
) -> Callable[[list[np.ndarray], int], dict[str, float]]:
    """A [`~hf_datavalue.projektor.labels.Learner`] that trains `model_init()` with `transformers.Trainer`.

    Args:
        model_init (`Callable[[], PreTrainedModel]`): builds a fresh model for each mixture.
        sources (`Sequence[datasets.Dataset]`): the pilot sources, already tokenised.
        valid (`datasets.Dataset`): the validation set.
        args (`transformers.TrainingArguments`): training arguments (the seed is replaced per call).
        label_column (`str`, *optional*, defaults to `"labels"`): the class-id column.
        data_collator (*optional*): passed to the Trainer.

    Returns:
        `learner(indices_per_source, seed) -> {"accuracy": %, "loss": 1 - accuracy, "log_loss": eval loss}`.
    """
    from transformers import Trainer

    from ..mixing import interleave_datasets

    for i, ds in enumerate([*sources, valid]):
        if label_column not in ds.column_names:
            raise MissingColumnError(f"source {i}" if i < len(sources) else "validation set", label_column,
                                     ds.column_names)  # fmt: skip
    if len(valid) == 0:
        raise EmptyDatasetError("the validation set is empty")

    def compute_metrics(pred: Any) -> dict[str, float]:
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        return {"accuracy": float((np.argmax(logits, axis=-1) == pred.label_ids).mean())}

    def learn(indices: list[np.ndarray], seed: int) -> dict[str, float]:
        parts = [(ds.select(idx.tolist()), len(idx)) for ds, idx in zip(sources, indices) if len(idx) > 0]
        total = sum(k for _, k in parts)
        mixed = interleave_datasets([d for d, _ in parts], probabilities=[k / total for _, k in parts],
                                    num_examples=total, seed=seed)  # fmt: skip
        run_args = dataclasses.replace(args, seed=int(seed) % (2**31), data_seed=int(seed) % (2**31))
        trainer = Trainer(model=model_init(), args=run_args, train_dataset=mixed, eval_dataset=valid,
                          data_collator=data_collator, compute_metrics=compute_metrics)  # fmt: skip
        trainer.train()
        metrics = trainer.evaluate()  # Trainer.evaluate runs the model in eval mode
        acc = float(metrics["eval_accuracy"])
        loss = float(metrics.get("eval_loss", math.nan))
        return {"accuracy": 100.0 * acc, "loss": 1.0 - acc, "log_loss": loss}

    return learn
