"""`train-verifier`: fine-tune a cross-encoder verifier from a sentence encoder on (statement, sentence, supports).

No pretrained LLM or NLI weights can be downloaded offline, so the library ships this route to a verifier of
real quality on CPU: a **trained verifier**, not the paper's LLM (users with an LLM plug one in). Pairs come
from the given queries and corpus:

* positives: the query statement with each of its proponent sentences;
* hard negatives: the top BM25 non-proponents of the statement, same-answer sentences (other facts with the
  same object), random sentences;
* conflicting statements: the statement with its answer swapped for another answer of the same relation, paired
  with a true proponent (label 0), so the model must check the object, not just the overlap.

Relations are split: the model trains on one part and its pair metrics are reported only on the queries of the
other part (never seen in training); the decision threshold is tuned on the dev split of queries (20%,
stratified by relation), which is excluded from training.

Usage:

```python
from hf_datavalue.fasttrack.verifier_training import VerifierTrainingArguments, train_verifier

report = train_verifier(queries, corpus, "outputs/verifier", VerifierTrainingArguments(base_model=minilm_path))
report["eval"]["f1"]   # pair F1 on held-out relations
```
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import JsonConfig
from ..core.errors import ConfigError, EmptyDatasetError, MissingColumnError
from ..core.io import prepare_output_dir, write_json_atomic
from .evaluation.data import proponent_rows
from .evaluation.splits import relation_split, stratified_dev_split
from .verifiers.cross_encoder import VERIFIER_CONFIG

__all__ = ["VerifierTrainingArguments", "build_verifier_pairs", "train_verifier"]

logger = logging.getLogger(__name__)


@dataclass
class VerifierTrainingArguments(JsonConfig):
    """Arguments of [`train_verifier`].

    Args:
        base_model (`str`, *optional*): sentence encoder to start from (a local folder; the shipped MiniLM).
        text_column (`str`, *optional*, defaults to `"text"`), query_column (`str`, defaults to `"statement"`),
            proponent_column (`str`, defaults to `"proponent_doc_ids"`), doc_id_column (`str`, defaults to
            `"doc_id"`), relation_column (`str`, defaults to `"predicate_id"`), answer_column (`str`, defaults to
            `"obj_label"`): column names.
        eval_relation_fraction (`float`, *optional*, defaults to 0.5): relations held out of training (0 = train
            on all, no held-out report).
        dev_fraction (`float`, *optional*, defaults to 0.2): queries per relation kept for threshold tuning.
        n_bm25 (`int`, defaults to 4), n_same_answer (`int`, defaults to 2), n_random (`int`, defaults to 2),
            n_swaps (`int`, defaults to 1): negatives per query (swaps: per proponent).
        epochs (`int`, defaults to 2), learning_rate (`float`, defaults to 5e-5), batch_size (`int`, defaults to
            32), max_length (`int`, defaults to 128), seed (`int`, defaults to 0), device (`str`, defaults to
            `"cpu"`): training.
        encoder_layers (`int`, *optional*): keep only the first N layers of a BERT-style encoder.
        max_train_queries, max_dev_queries, max_eval_queries (`int`, *optional*): seeded caps on the queries used
            (subsampling is recorded in the training report).
    """

    base_model: str | None = field(default=None, metadata={"help": "Sentence encoder to fine-tune (local path)."})
    text_column: str = field(default="text", metadata={"help": "Corpus text column."})
    query_column: str = field(default="statement", metadata={"help": "Query statement column."})
    proponent_column: str = field(default="proponent_doc_ids", metadata={"help": "Query proponent ids column."})
    doc_id_column: str = field(default="doc_id", metadata={"help": "Corpus id column the proponent ids refer to."})
    relation_column: str = field(default="predicate_id", metadata={"help": "Query relation column."})
    answer_column: str = field(default="obj_label", metadata={"help": "Query answer column (for swaps)."})
    eval_relation_fraction: float = field(default=0.5, metadata={"help": "Relations held out of training."})
    dev_fraction: float = field(default=0.2, metadata={"help": "Dev queries per relation (threshold tuning)."})
    n_bm25: int = field(default=4, metadata={"help": "BM25 hard negatives per query."})
    n_same_answer: int = field(default=2, metadata={"help": "Same-answer negatives per query."})
    n_random: int = field(default=2, metadata={"help": "Random negatives per query."})
    n_swaps: int = field(default=1, metadata={"help": "Answer-swapped statements per proponent."})
    epochs: int = field(default=2, metadata={"help": "Training epochs."})
    learning_rate: float = field(default=5e-5, metadata={"help": "AdamW learning rate."})
    batch_size: int = field(default=32, metadata={"help": "Pairs per step."})
    max_length: int = field(default=128, metadata={"help": "Token limit of a pair."})
    encoder_layers: int | None = field(
        default=None, metadata={"help": "Keep only the first N transformer layers of the encoder (faster on CPU)."}
    )
    max_train_queries: int | None = field(default=None, metadata={"help": "Seeded cap on training queries."})
    max_dev_queries: int | None = field(default=None, metadata={"help": "Seeded cap on threshold-tuning queries."})
    max_eval_queries: int | None = field(default=None, metadata={"help": "Seeded cap on held-out report queries."})
    seed: int = field(default=0, metadata={"help": "Seed of pairs, splits, init and shuffling."})
    device: str = field(default="cpu", metadata={"help": "Training device."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.eval_relation_fraction < 1.0:
            raise ConfigError(f"eval_relation_fraction must lie in [0, 1), got {self.eval_relation_fraction}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_length < 8 or not self.learning_rate > 0:
            raise ConfigError("epochs, batch_size >= 1, max_length >= 8 and learning_rate > 0 are required")


def build_verifier_pairs(
    queries: Any, corpus: Any, rows: np.ndarray, args: VerifierTrainingArguments, bm25: Any = None
) -> dict[str, list[Any]]:
    """Labelled pairs for the queries at positions `rows`: `statement`, `sentence`, `label`, `query_id`, `kind`."""
    from .evaluation.baselines import BM25Ranker

    texts = [str(t) for t in corpus[args.text_column]]
    props = proponent_rows(queries, corpus, args.proponent_column, args.doc_id_column)
    statements = [str(s) for s in queries[args.query_column]]
    answers = list(queries[args.answer_column]) if args.answer_column in queries.column_names else None
    relations = list(queries[args.relation_column]) if args.relation_column in queries.column_names else None
    qids = list(queries["query_id"]) if "query_id" in queries.column_names else list(range(len(queries)))
    by_answer: dict[str, list[int]] = {}
    if "masked_answer" in corpus.column_names:
        for i, a in enumerate(corpus["masked_answer"]):
            by_answer.setdefault(str(a).lower(), []).append(i)
    answers_by_rel: dict[str, list[str]] = {}
    if answers is not None:
        for q in range(len(queries)):
            answers_by_rel.setdefault(str(relations[q]) if relations else "", []).append(str(answers[q]))
    bm25 = bm25 or BM25Ranker(texts)
    top, _ = bm25.retrieve([statements[int(q)] for q in rows], k=30)
    out: dict[str, list[Any]] = {"statement": [], "sentence": [], "label": [], "query_id": [], "kind": []}

    def add(stmt: str, sent: str, label: int, q: int, kind: str) -> None:
        out["statement"].append(stmt)
        out["sentence"].append(sent)
        out["label"].append(label)
        out["query_id"].append(str(qids[q]))
        out["kind"].append(kind)

    lowered = [t.lower() for t in texts]
    for j, q in enumerate(int(r) for r in rows):
        rng = np.random.default_rng([args.seed, q])
        prop = props[q]
        for r in sorted(prop):
            add(statements[q], texts[r], 1, q, "proponent")
        hard = [int(d) for d in top[j] if int(d) not in prop][: args.n_bm25]
        for r in hard:
            add(statements[q], texts[r], 0, q, "bm25")
        if answers is not None and args.n_same_answer:
            ans = str(answers[q]).lower()
            if by_answer:
                pool = [i for i in rng.permutation(by_answer.get(ans, [])).tolist() if i not in prop and i not in hard]
            else:
                sample = rng.choice(len(texts), size=min(len(texts), 4000), replace=False).tolist()
                pool = [i for i in sample if ans in lowered[i] and i not in prop and i not in hard]
            for r in pool[: args.n_same_answer]:
                add(statements[q], texts[r], 0, q, "same_answer")
        for r in rng.choice(len(texts), size=min(args.n_random, len(texts)), replace=False).tolist():
            if r not in prop:
                add(statements[q], texts[int(r)], 0, q, "random")
        if answers is not None and args.n_swaps and str(answers[q]) in statements[q]:
            others = sorted(set(answers_by_rel.get(str(relations[q]) if relations else "", [])) - {str(answers[q])})
            for r in sorted(prop)[:3]:
                for other in rng.permutation(others)[: args.n_swaps] if others else []:
                    if str(other).lower() not in lowered[r]:
                        add(statements[q].replace(str(answers[q]), str(other)), texts[r], 0, q, "answer_swap")
    return out


def _truncate_layers(model: Any, n_layers: int) -> None:
    """Keep the first `n_layers` transformer layers of a BERT-style encoder (`base_model.encoder.layer`)."""
    layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if layers is None or not 1 <= n_layers <= len(layers):
        raise ConfigError(f"encoder_layers={n_layers} needs a BERT-style encoder with at least that many layers")
    model.base_model.encoder.layer = layers[:n_layers]
    model.config.num_hidden_layers = n_layers


def _pair_metrics(prob: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    pred = prob >= threshold
    tp = float(np.sum(pred & (labels == 1)))
    prec = tp / max(1.0, float(pred.sum()))
    rec = tp / max(1.0, float((labels == 1).sum()))
    return {
        "precision": prec,
        "recall": rec,
        "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "accuracy": float(np.mean(pred == (labels == 1))),
        "n_pairs": float(len(labels)),
    }


def _score(model: Any, tokenizer: Any, pairs: dict[str, list[Any]], args: VerifierTrainingArguments) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for lo in range(0, len(pairs["label"]), 128):
            enc = tokenizer(
                pairs["statement"][lo : lo + 128],
                pairs["sentence"][lo : lo + 128],
                truncation="only_second",
                max_length=args.max_length,
                padding=True,
                return_tensors="pt",
            ).to(args.device)
            out.append(torch.softmax(model(**enc).logits.float(), -1)[:, 1].cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_verifier(
    queries: Any,
    corpus: Any,
    output_dir: str | os.PathLike[str],
    args: VerifierTrainingArguments | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train, tune the threshold on dev queries, report on held-out relations, save model + `verifier_config.json`.

    Returns the training report (also written to `output_dir/training_report.json`).
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    args = args or VerifierTrainingArguments()
    if not args.base_model:
        raise ConfigError("train_verifier needs base_model: a local sentence-encoder folder (e.g. the shipped MiniLM)")
    if len(corpus) == 0 or len(queries) == 0:
        raise EmptyDatasetError("train-verifier needs a non-empty corpus and non-empty queries")
    for what, table, col in (
        ("queries", queries, args.query_column),
        ("queries", queries, args.proponent_column),
        ("corpus", corpus, args.text_column),
    ):
        if col not in table.column_names:
            raise MissingColumnError(what, col, table.column_names)
    out = prepare_output_dir(output_dir, run_config={"train_verifier": args.to_dict()}, overwrite=overwrite)
    strata = (
        list(queries[args.relation_column]) if args.relation_column in queries.column_names else ["all"] * len(queries)
    )
    dev, rest = stratified_dev_split(strata, args.dev_fraction, args.seed)
    if args.eval_relation_fraction > 0 and len(set(strata)) >= 2:
        train_rel, eval_rel = relation_split(strata, args.eval_relation_fraction, args.seed)
    else:
        train_rel, eval_rel = sorted({str(s) for s in strata}), []
    rel = np.asarray([str(s) for s in strata])
    train_rows = np.asarray([i for i in rest if rel[i] in set(train_rel)], dtype=np.int64)
    eval_rows = np.asarray([i for i in rest if rel[i] in set(eval_rel)], dtype=np.int64)
    cap_rng = np.random.default_rng(args.seed)
    for name, cap in (
        ("train", args.max_train_queries),
        ("dev", args.max_dev_queries),
        ("eval", args.max_eval_queries),
    ):
        rows_ = {"train": train_rows, "dev": dev, "eval": eval_rows}[name]
        if cap is not None and len(rows_) > cap:
            rows_ = np.sort(cap_rng.choice(rows_, size=cap, replace=False))
            logger.info("using %d %s queries (cap)", cap, name)
        if name == "train":
            train_rows = rows_
        elif name == "dev":
            dev = rows_
        else:
            eval_rows = rows_
    if not len(train_rows):
        raise EmptyDatasetError("no training queries left after the dev and relation splits")
    from .evaluation.baselines import BM25Ranker

    bm25 = BM25Ranker([str(t) for t in corpus[args.text_column]])
    train_pairs = build_verifier_pairs(queries, corpus, train_rows, args, bm25)
    dev_pairs = build_verifier_pairs(queries, corpus, dev, args, bm25)
    eval_pairs = build_verifier_pairs(queries, corpus, eval_rows, args, bm25) if len(eval_rows) else None
    logger.info("verifier pairs: %d train, %d dev", len(train_pairs["label"]), len(dev_pairs["label"]))

    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        tokenizer = AutoTokenizer.from_pretrained(args.base_model)
        model = AutoModelForSequenceClassification.from_pretrained(
            args.base_model,
            num_labels=2,
            id2label={0: "not_supports", 1: "supports"},
            label2id={"not_supports": 0, "supports": 1},
        )
        if args.encoder_layers is not None:
            _truncate_layers(model, args.encoder_layers)
        model.to(args.device)
        labels = torch.tensor(train_pairs["label"])
        pos_weight = float((labels == 0).sum()) / max(1.0, float((labels == 1).sum()))
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, pos_weight], device=args.device))
        optim = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01)
        n = len(labels)
        steps = args.epochs * math.ceil(n / args.batch_size)
        sched = get_linear_schedule_with_warmup(optim, int(0.1 * steps), steps)
        gen = np.random.default_rng(args.seed)
        bar = tqdm(total=steps, desc="Training verifier", disable=not progress)
        losses = []
        for _epoch in range(args.epochs):
            model.train()
            order = gen.permutation(n)
            for lo in range(0, n, args.batch_size):
                idx = order[lo : lo + args.batch_size].tolist()
                enc = tokenizer(
                    [train_pairs["statement"][i] for i in idx],
                    [train_pairs["sentence"][i] for i in idx],
                    truncation="only_second",
                    max_length=args.max_length,
                    padding=True,
                    return_tensors="pt",
                ).to(args.device)
                loss = loss_fn(model(**enc).logits, labels[idx].to(args.device))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                losses.append(loss.item())
                bar.update(1)
        bar.close()
    train_seconds = time.perf_counter() - start
    dev_prob = _score(model, tokenizer, dev_pairs, args)
    dev_labels = np.asarray(dev_pairs["label"])
    grid = np.linspace(0.05, 0.95, 19)
    f1s = [_pair_metrics(dev_prob, dev_labels, t)["f1"] for t in grid]
    threshold = float(grid[int(np.argmax(f1s))])
    all_ids = list(queries["query_id"]) if "query_id" in queries.column_names else list(range(len(queries)))
    report: dict[str, Any] = {
        "trained_by": "hf_datavalue train-verifier (a trained cross-encoder verifier, not the paper's LLM)",
        "base_model": args.base_model,
        "threshold": threshold,
        "max_length": args.max_length,
        "train_relations": train_rel,
        "eval_relations": eval_rel,
        "n_train_queries": int(len(train_rows)),
        "n_dev_queries": int(len(dev)),
        "n_eval_queries": int(len(eval_rows)),
        "eval_query_ids": [str(all_ids[int(i)]) for i in eval_rows],
        "n_train_pairs": n,
        "train_seconds": train_seconds,
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
        "dev": _pair_metrics(dev_prob, dev_labels, threshold),
        "arguments": args.to_dict(),
    }
    if eval_pairs is not None:
        eval_prob = _score(model, tokenizer, eval_pairs, args)
        ev_labels = np.asarray(eval_pairs["label"])
        report["eval"] = _pair_metrics(eval_prob, ev_labels, threshold)
        kinds = np.asarray(eval_pairs["kind"])
        report["eval_by_kind"] = {
            k: float(np.mean((eval_prob[kinds == k] >= threshold) == (ev_labels[kinds == k] == 1)))
            for k in sorted(set(kinds.tolist()))
        }
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    write_json_atomic(Path(out) / "training_report.json", report)
    write_json_atomic(
        Path(out) / VERIFIER_CONFIG,
        {k: report[k] for k in ("trained_by", "base_model", "threshold", "max_length", "train_relations")},
    )
    return report
