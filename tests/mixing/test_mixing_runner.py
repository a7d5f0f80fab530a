"""A tiny real DDO sweep with transformers.Trainer (GPT-2 from config), its resume, and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.core.errors import ConfigError, OutputExistsError
from hf_datavalue.mixing import DDOConfig, LossTable, MixtureWeights
from hf_datavalue.training import DDORunner
from hf_datavalue.training import ddo_runner as runner_module

BLOCK = 16
VOCAB = 64


def blocks(lo: int, hi: int, n: int, seed: int) -> Dataset:
    """Domain = tokens drawn from its own vocabulary range, in a repeating pattern (learnable in a few steps)."""
    rng = np.random.default_rng(seed)
    start = rng.integers(lo, hi, size=n)
    ids = [[int(lo + (s - lo + k) % (hi - lo)) for k in range(BLOCK)] for s in start]
    return Dataset.from_dict({"input_ids": ids, "labels": ids})


def tiny_model():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=BLOCK, n_embd=16, n_layer=1, n_head=2))


def args(tmp_path):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(tmp_path / "unused"), per_device_train_batch_size=8, per_device_eval_batch_size=32,
        learning_rate=5e-3, num_train_epochs=1, save_strategy="no", logging_strategy="no", report_to="none",
        disable_tqdm=True, use_cpu=True, seed=0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data():
    train = {"low": blocks(0, 32, 200, 0), "high": blocks(32, 64, 200, 1)}
    valid = {"low": blocks(0, 32, 32, 2), "high": blocks(32, 64, 32, 3)}
    return train, valid


def make_runner(tmp_path, data, **kw):
    train, valid = data
    return DDORunner(
        train, valid, tiny_model, args(tmp_path), base_budget=48, output_dir=tmp_path / "ddo",
        config=DDOConfig(x_down=0.25, x_up=3.0), block_size=BLOCK, **kw,
    )  # fmt: skip


def test_tiny_ddo_sweep_and_resume(tmp_path, data, monkeypatch):
    import torch

    torch.set_num_threads(1)
    runner = make_runner(tmp_path, data)
    assert [r.name for r in runner.plan] == ["base", "low-down", "low-up", "high-down", "high-up"]
    table = runner.run()
    assert len(table.runs) == 5 and table.unit == "tokens" and table.budget == 48 * BLOCK
    for run in runner.plan:
        saved = json.loads((tmp_path / "ddo" / "runs" / run.name / "result.json").read_text())
        assert saved["plan"]["amounts"] == run.amounts
        assert all(math.isfinite(v) and v > 1 for v in saved["run"]["losses"].values())  # perplexities
    assert LossTable.load(tmp_path / "ddo" / "loss_table.json") == table
    # more data of a domain lowers its own validation perplexity
    by_name = {r.name: r for r in table.runs}
    assert by_name["low-up"].losses["low"] < by_name["low-down"].losses["low"]

    # resume: nothing is retrained, and the fit works from the saved table
    def no_training(*a, **k):
        raise AssertionError("a finished run was retrained")

    monkeypatch.setattr(runner_module, "train_on_mixture", no_training)
    again = make_runner(tmp_path, data)
    weights = again.fit()
    assert isinstance(weights, MixtureWeights) and weights.unit == "tokens"
    assert math.fsum(weights.as_list()) == pytest.approx(1.0) and min(weights.as_list()) >= 0.25 / 2 / 2 - 1e-12
    assert MixtureWeights.load(tmp_path / "ddo" / "weights.json") == weights


def test_runner_guards(tmp_path, data):
    train, valid = data
    with pytest.raises(ConfigError, match="only 200 exist"):
        DDORunner(train, valid, tiny_model, args(tmp_path), base_budget=400, output_dir=tmp_path / "x")
    with pytest.raises(ConfigError, match="lacks domain"):
        DDORunner(train, {"low": valid["low"]}, tiny_model, args(tmp_path), base_budget=40, output_dir=tmp_path / "y")
    make_runner(tmp_path, data)
    with pytest.raises(OutputExistsError):
        DDORunner(train, valid, tiny_model, args(tmp_path), base_budget=40, output_dir=tmp_path / "ddo")


def test_cli_ddo_predict_show(tmp_path, capsys):
    import argparse

    from mixing_golden import AUTOSCALE_NB, BASE, DOMAINS, DOWN, UP

    from hf_datavalue.commands import mix

    LossTable.from_objective_matrix(DOMAINS, BASE[7], [r[7] for r in DOWN], [r[7] for r in UP]).save(
        tmp_path / "t.json"
    )
    for b in (0.3, 1.2):
        MixtureWeights(dict(zip(DOMAINS, AUTOSCALE_NB[b])), budget=b).save(tmp_path / f"w{b}.json")
    parser = argparse.ArgumentParser()
    mix.register(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        ns = parser.parse_args(list(argv))
        return ns.func(ns)

    assert run("mix", "ddo", "--table", str(tmp_path / "t.json"), "--out", str(tmp_path / "ddo.json")) == 0
    assert MixtureWeights.load(tmp_path / "ddo.json")["GitHub"] == pytest.approx(0.2 / 7)
    out = tmp_path / "pred.json"
    assert run("mix", "predict", "--anchor", str(tmp_path / "w0.3.json"), "--anchor", str(tmp_path / "w1.2.json"),
               "--budget", "5.0", "--out", str(out)) == 0  # fmt: skip
    assert MixtureWeights.load(out).budget == pytest.approx(5.0)
    assert run("mix", "show", str(out), "--plot", str(tmp_path / "p.png")) == 0
    text = capsys.readouterr().out
    assert "C4" in text and (tmp_path / "p.png").exists()
