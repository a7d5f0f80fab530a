"""Run the 2m+1 DDO perturbation trainings with `transformers.Trainer`, resumably, and fit the weights.

Each run trains a fresh model from the user's `model_init` with a copy of the user's `TrainingArguments` on the
run's per-domain quotas (delivered by [`interleave_datasets`]), evaluates the per-domain validation loss, and
writes `output_dir/runs/<run>/result.json` atomically. A run whose result exists is never retrained, so an
interrupted sweep resumes where it stopped. The measured [`LossTable`] goes to `output_dir/loss_table.json`
and the fitted weights to `output_dir/weights.json`.

Usage:

```python
from transformers import GPT2Config, GPT2LMHeadModel, TrainingArguments
from hf_datavalue.mixing import DDOConfig
from hf_datavalue.training import DDORunner

runner = DDORunner(
    train_domains={"wiki": wiki_blocks, "code": code_blocks},   # tokenized fixed-length blocks
    eval_domains={"wiki": wiki_val, "code": code_val},
    model_init=lambda: GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=2)),
    training_args=TrainingArguments("unused", per_device_train_batch_size=16, num_train_epochs=1, report_to=[]),
    base_budget=2_000,            # examples (blocks) in the uniform base run
    output_dir="outputs/ddo/run1",
    config=DDOConfig(x_down=0.2, x_up=3.0),
    block_size=64,                # record the budget in tokens
)
weights = runner.fit()            # trains what is missing, then fits
```
"""

from __future__ import annotations

import copy
import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, EmptyDatasetError
from ..core.io import prepare_output_dir, read_json, write_json_atomic
from ..core.mixture import MixtureWeights, check_same_domains
from ..mixing.ddo import DDO, DDOConfig, LossTable, PerturbationRun, PlannedRun, perturbation_plan
from ..mixing.sampler import interleave_datasets

__all__ = ["DDORunner", "train_on_mixture"]

logger = logging.getLogger(__name__)


def train_on_mixture(
    train_domains: Mapping[str, Any],
    eval_domains: Mapping[str, Any],
    amounts: Mapping[str, int],
    model_init: Callable[[], Any],
    training_args: Any,
    output_dir: str | os.PathLike[str],
    data_collator: Any = None,
    seed: int = 0,
    callbacks: list[Any] | None = None,
) -> tuple[dict[str, float], Any]:
    """Train a fresh model on exact per-domain amounts and return `(per-domain eval loss, trainer)`.

    Args:
        train_domains (`dict[str, datasets.Dataset]`): tokenized training examples per domain.
        eval_domains (`dict[str, datasets.Dataset]`): tokenized validation examples per domain.
        amounts (`dict[str, int]`): examples to take from each domain (the first ones; shuffle beforehand).
        model_init (`Callable[[], PreTrainedModel]`): builds a fresh model; it is called right after
            `transformers.set_seed(training_args.seed)`, so every run starts from the same initial weights.
        training_args ([`~transformers.TrainingArguments`]): copied; its `output_dir` is replaced.
        output_dir (`str`): where the Trainer writes.
        data_collator (*optional*): passed to the Trainer (defaults to the Trainer's default collator).
        seed (`int`, *optional*, defaults to 0): seed of the interleaving order.
        callbacks (`list`, *optional*): extra Trainer callbacks.
    """
    from transformers import Trainer, set_seed

    check_same_domains(list(amounts), list(train_domains), "amounts", "train_domains")
    parts = {}
    for d, n in amounts.items():
        available = len(train_domains[d])
        if n > available:
            raise ConfigError(f"domain {d!r}: the run needs {n} examples but only {available} are available")
        if n <= 0:
            raise EmptyDatasetError(f"domain {d!r}: the run has a zero amount")
        parts[d] = train_domains[d].select(range(int(n)))
    total = int(sum(amounts.values()))
    mix = interleave_datasets(
        parts, weights=MixtureWeights(dict(amounts), unit="examples"), num_examples=total, seed=seed
    )
    args = copy.deepcopy(training_args)
    args.output_dir = str(output_dir)
    # Seed before building the model: its initial weights must not depend on what ran before in this process
    # (otherwise two sweeps differ, and a resumed sweep differs from an uninterrupted one).
    set_seed(args.seed)
    trainer = Trainer(
        model=model_init(),
        args=args,
        train_dataset=mix,
        eval_dataset=dict(eval_domains),
        data_collator=data_collator,
        callbacks=callbacks,
    )
    trainer.train()
    metrics = trainer.evaluate()
    losses = {d: float(metrics[f"eval_{d}_loss"]) for d in eval_domains}
    return losses, trainer


class DDORunner:
    """Train the DDO perturbation runs with `transformers.Trainer` and fit the weights.

    Args:
        train_domains (`dict[str, datasets.Dataset]`): tokenized training examples per domain (ideally
            fixed-length blocks, so that examples are tokens; shuffle them beforehand: runs take the first ones).
        eval_domains (`dict[str, datasets.Dataset]`): per-domain validation sets (same names), fixed across runs.
        model_init (`Callable[[], PreTrainedModel]`): builds a fresh model of the target architecture.
        training_args ([`~transformers.TrainingArguments`]): the fixed recipe (optimizer, schedule, epochs, seed);
            each run gets a copy with its own `output_dir`.
        base_budget (`int`): examples in the uniform base run (N; each domain gets N/m).
        output_dir (`str`): the sweep folder (`runs/<name>/result.json`, `loss_table.json`, `weights.json`).
        config ([`DDOConfig`], *optional*): multipliers, plan mode, bounds and metric.
        data_collator (*optional*): passed to every Trainer.
        block_size (`int`, *optional*): tokens per example; when given, budgets are recorded in tokens.
        seed (`int`, *optional*, defaults to 0): seed of the interleaving order.
        overwrite (`bool`, *optional*, defaults to `False`): allow reusing a folder of a different sweep.

    Usage: see the module docstring.
    """

    def __init__(
        self,
        train_domains: Mapping[str, Any],
        eval_domains: Mapping[str, Any],
        model_init: Callable[[], Any],
        training_args: Any,
        base_budget: int,
        output_dir: str | os.PathLike[str],
        config: DDOConfig | None = None,
        data_collator: Any = None,
        block_size: int | None = None,
        seed: int = 0,
        overwrite: bool = False,
    ):
        check_same_domains(list(eval_domains), list(train_domains), "eval_domains", "train_domains")
        for d, ds in {**dict(train_domains), **{f"{k} (eval)": v for k, v in eval_domains.items()}}.items():
            if len(ds) == 0:
                raise EmptyDatasetError(f"domain {d!r} is empty")
        self.train_domains = dict(train_domains)
        self.eval_domains = dict(eval_domains)
        self.model_init = model_init
        self.training_args = training_args
        self.config = config or DDOConfig()
        self.base_budget = int(base_budget)
        self.data_collator = data_collator
        self.block_size = block_size
        self.seed = seed
        self.plan = perturbation_plan(
            list(self.train_domains), self.base_budget, self.config.x_down, self.config.x_up, self.config.mode
        )
        for run in self.plan:
            for d, n in run.amounts.items():
                if n > len(self.train_domains[d]):
                    raise ConfigError(
                        f"run {run.name!r} needs {n} examples of domain {d!r}, only {len(self.train_domains[d])} exist; "
                        "lower base_budget or x_up"
                    )
        run_config = {
            "domains": list(self.train_domains),
            "base_budget": self.base_budget,
            "ddo": self.config.to_dict(),
            "block_size": block_size,
            "seed": seed,
        }
        self.output_dir = prepare_output_dir(output_dir, run_config=run_config, overwrite=overwrite)

    def _result_path(self, run: PlannedRun) -> Path:
        return self.output_dir / "runs" / run.name / "result.json"

    def run_one(self, run: PlannedRun) -> PerturbationRun:
        """Train and evaluate one planned run, or load its saved result."""
        path = self._result_path(run)
        if path.exists():
            logger.info("DDO run %s: already done, loading %s", run.name, path)
            return PerturbationRun(**read_json(path)["run"])
        logger.info("DDO run %s: training on %s", run.name, run.amounts)
        losses, trainer = train_on_mixture(
            self.train_domains,
            self.eval_domains,
            run.amounts,
            self.model_init,
            self.training_args,
            path.parent / "trainer",
            data_collator=self.data_collator,
            seed=self.seed,
        )
        values = {d: math.exp(v) for d, v in losses.items()} if self.config.metric == "perplexity" else losses
        result = PerturbationRun(run.name, run.perturbed, dict(run.multipliers), values)
        if trainer.is_world_process_zero():
            write_json_atomic(
                path,
                {
                    "run": result.__dict__,
                    "plan": run.to_dict(),
                    "eval_loss": losses,
                    "log_history": trainer.state.log_history,
                },
            )
        return result

    def run(self) -> LossTable:
        """Run (or load) all 2m+1 runs and return the [`LossTable`] (also written to `loss_table.json`)."""
        from tqdm.auto import tqdm

        disable = os.environ.get("HF_DATAVALUE_DISABLE_PROGRESS_BARS", "0") == "1"
        runs = [self.run_one(r) for r in tqdm(self.plan, desc="DDO runs", disable=disable)]
        budget = float(self.base_budget * (self.block_size or 1))
        table = LossTable(
            list(self.train_domains),
            runs,
            metric=self.config.metric,
            budget=budget,
            unit="tokens" if self.block_size else "examples",
        )
        table.save(self.output_dir / "loss_table.json")
        return table

    def fit(self) -> MixtureWeights:
        """Run what is missing, fit DDO, and write `weights.json`."""
        table = self.run()
        weights = DDO(self.config).fit(table)
        weights.save(self.output_dir / "weights.json")
        return weights
