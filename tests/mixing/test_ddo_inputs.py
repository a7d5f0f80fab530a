"""DDO input checks (duplicate domains, non-positive losses) and a seeded, resumable DDO sweep."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.core.errors import ConfigError
from hf_datavalue.mixing import DDO, DDOConfig, LossTable
from hf_datavalue.mixing.ddo import PerturbationRun
from hf_datavalue.training import DDORunner
from hf_datavalue.training import ddo_runner as runner_module

DOMAINS = ["a", "b", "c"]


def table(domains=DOMAINS, base=10.0, down=(12.0, 11.0, 11.5), up=(9.0, 9.5, 9.2), metric="perplexity"):
    return LossTable.from_objective_matrix(domains, base=base, down=list(down), up=list(up), metric=metric)


def test_a_valid_table_fits():
    weights = DDO().fit(table())
    assert weights.domains == DOMAINS and sum(weights.as_list()) == pytest.approx(1.0)


def test_duplicate_domain_names_raise():
    with pytest.raises(ConfigError, match="more than once"):
        table(domains=["a", "a", "b"])
    data = table().to_dict()
    data["domains"] = ["a", "b", "b"]
    with pytest.raises(ConfigError, match="more than once"):
        LossTable.from_dict(data)


@pytest.mark.parametrize("metric", ["perplexity", "loss"])
def test_negative_losses_raise(metric):
    with pytest.raises(ConfigError, match="non-positive"):
        table(base=-10.0, down=(-12.0, -11.0, -11.5), up=(-9.0, -9.5, -9.2), metric=metric)
    with pytest.raises(ConfigError, match="non-positive"):
        table(down=(12.0, -1.0, 11.5), metric=metric)


def test_zero_base_perplexity_is_a_typed_error():
    with pytest.raises(ConfigError, match="non-positive"):
        table(base=0.0)
    runs = [PerturbationRun("base", None, dict.fromkeys(DOMAINS, 1.0), dict.fromkeys(DOMAINS, 0.0))]
    with pytest.raises(ConfigError):
        LossTable(DOMAINS, runs)


@pytest.mark.parametrize(
    "data,match",
    [
        ([1, 2], "JSON object"),
        ({"domains": ["a", "b"]}, "missing fields"),
        ({"domains": ["a", "b"], "runs": [], "colour": 1}, "unknown fields"),
        ({"domains": ["a", "b"], "runs": ["x"]}, "must be an object"),
        (
            {"domains": ["a", "b"], "runs": [{"name": "base", "perturbed": None, "multipliers": {"a": "x", "b": 1}}]},
            "not a number",
        ),  # fmt: skip
        ({"domains": "ab", "runs": []}, "list of names"),
    ],
)
def test_malformed_tables_raise_config_errors(data, match):
    with pytest.raises(ConfigError, match=match):
        LossTable.from_dict(data)


# ------------------------------------------------------------------------------- a real tiny sweep

BLOCK, VOCAB = 16, 64


def blocks(lo: int, hi: int, n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    start = rng.integers(lo, hi, size=n)
    ids = [[int(lo + (s - lo + k) % (hi - lo)) for k in range(BLOCK)] for s in start]
    return Dataset.from_dict({"input_ids": ids, "labels": ids})


def unseeded_model():
    """A model_init that does not seed itself: its weights depend on the global RNG when it is called."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=BLOCK, n_embd=16, n_layer=1, n_head=2))


def training_args(tmp_path):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(tmp_path / "unused"), per_device_train_batch_size=8, per_device_eval_batch_size=32,
        learning_rate=5e-3, num_train_epochs=1, save_strategy="no", logging_strategy="no", report_to="none",
        disable_tqdm=True, use_cpu=True, seed=0,
    )  # fmt: skip


def sweep(tmp_path, name):
    train = {"low": blocks(0, 32, 120, 0), "high": blocks(32, 64, 120, 1)}
    valid = {"low": blocks(0, 32, 16, 2), "high": blocks(32, 64, 16, 3)}
    return DDORunner(train, valid, unseeded_model, training_args(tmp_path), base_budget=32,
                     output_dir=tmp_path / name, config=DDOConfig(x_down=0.25, x_up=3.0), block_size=BLOCK)  # fmt: skip


def _disturb_global_rng(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    torch.rand(seed + 1)


def test_killed_and_resumed_sweep_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    import torch

    torch.set_num_threads(1)
    _disturb_global_rng(1)
    uninterrupted = sweep(tmp_path, "full").fit()
    full_table = LossTable.load(tmp_path / "full" / "loss_table.json")

    # a second sweep, killed after two runs ...
    real = runner_module.train_on_mixture
    calls = {"n": 0}

    def dies_on_the_third_run(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    _disturb_global_rng(7)
    monkeypatch.setattr(runner_module, "train_on_mixture", dies_on_the_third_run)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path, "resumed").fit()
    monkeypatch.setattr(runner_module, "train_on_mixture", real)
    assert len(list((tmp_path / "resumed" / "runs").glob("*/result.json"))) == 2
    # ... and resumed in a process whose RNG moved on
    _disturb_global_rng(99)
    resumed = sweep(tmp_path, "resumed").fit()
    resumed_table = LossTable.load(tmp_path / "resumed" / "loss_table.json")
    for a, b in zip(full_table.runs, resumed_table.runs):
        assert a.name == b.name
        assert b.losses == pytest.approx(a.losses, rel=1e-9)
    assert resumed.as_list() == pytest.approx(uninterrupted.as_list(), rel=1e-9)
