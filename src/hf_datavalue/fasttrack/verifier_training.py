"""`train-verifier`: fine-tune a cross-encoder verifier from a sentence encoder on (statement, sentence, supports).

No pretrained LLM or NLI weights can be downloaded offline, so the library ships this route to a verifier of
real quality on CPU: a **trained verifier**, not the paper's LLM (users with an LLM plug one in). Pairs come
from the given queries and corpus:

* positives: the query statement with its proponent sentences (at most `max_positives`, seeded);
* hard negatives: the top BM25 non-proponents of the statement, sentences that mention the subject but state
  another fact, same-answer sentences (another subject with the same object), random sentences;
* conflicting statements: the statement with its answer swapped for another answer of the same relation, paired
  with a true proponent (label 0), so the model must check the object, not just the overlap.

Relations are split: the model trains on one part and its pair metrics are reported only on the queries of the
other part (never seen in training), next to two simple baselines on the same pairs (answer "supports" to
every pair; a BM25 score threshold tuned on dev pairs). The decision threshold is tuned on the dev split of
queries (20%, stratified by relation), which is excluded from training, and so is the lexical pre-screen gate
(`min_overlap`, see `verifiers/prescreen.py`) that lets the CPU verifier skip passages sharing too few content
words with the statement. Both are saved in `verifier_config.json`. A warning is logged when the trained model
is no better than answering "supports" to every held-out pair.

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
import re
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
from .verifiers.prescreen import overlap, tune_min_overlap

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
        subject_column (`str`, defaults to `"sub_label"`): query subject column (for subject hard negatives).
        n_bm25 (`int`, defaults to 3), n_subject_other (`int`, defaults to 2), n_same_answer (`int`, defaults to
            2), n_random (`int`, defaults to 2), n_swaps (`int`, defaults to 1): negatives per query (swaps: per
            proponent, at most two proponents); max_positives (`int`, defaults to 4): proponents used per query.
        epochs (`int`, defaults to 2), learning_rate (`float`, defaults to 8e-5), batch_size (`int`, defaults to
            32), max_length (`int`, defaults to 128), seed (`int`, defaults to 0), device (`str`, defaults to
            `"cpu"`): training. Batches are drawn from length buckets (less padding on CPU).
        freeze_embeddings (`bool`, defaults to `True`): keep the word embeddings fixed (half the parameters of
            MiniLM; faster steps, and held-out relations bring unseen words).
        prescreen_keep (`float`, *optional*, defaults to 0.98): the lexical pre-screen gate (`min_overlap` of the
            cross-encoder verifier) is the largest one keeping this share of the dev supporting pairs; `None` = off.
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
    subject_column: str = field(default="sub_label", metadata={"help": "Query subject column (hard negatives)."})
    n_bm25: int = field(default=3, metadata={"help": "BM25 hard negatives per query."})
    n_subject_other: int = field(default=2, metadata={"help": "Sentences mentioning the subject (another fact)."})
    n_same_answer: int = field(default=2, metadata={"help": "Same-answer negatives per query."})
    n_random: int = field(default=2, metadata={"help": "Random negatives per query."})
    n_swaps: int = field(default=1, metadata={"help": "Answer-swapped statements per proponent."})
    max_positives: int | None = field(default=4, metadata={"help": "Proponents used per query (seeded)."})
    epochs: int = field(default=2, metadata={"help": "Training epochs."})
    learning_rate: float = field(default=8e-5, metadata={"help": "AdamW learning rate."})
    batch_size: int = field(default=32, metadata={"help": "Pairs per step."})
    max_length: int = field(default=128, metadata={"help": "Token limit of a pair."})
    freeze_embeddings: bool = field(default=True, metadata={"help": "Keep the word embeddings fixed."})
    prescreen_keep: float | None = field(
        default=0.98,
        metadata={"help": "Tune the lexical pre-screen to keep this share of dev supporting pairs (None = off)."},
    )
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
    """Labelled pairs for the queries at positions `rows`.

    Columns: `statement`, `sentence`, `label` (1 = supports), `query_id`, `row` (corpus row of the sentence) and
    `kind`: `proponent`, `bm25` (top BM25 non-proponents), `subject_other` (mentions the subject, another
    fact), `same_answer` (mentions the answer, another subject), `answer_swap` (a true proponent with the
    statement's answer swapped for another answer of the same relation: a conflicting statement) or `random`.
    """
    from .evaluation.baselines import BM25Ranker

    texts = [str(t) for t in corpus[args.text_column]]
    lowered = [t.lower() for t in texts]
    props = proponent_rows(queries, corpus, args.proponent_column, args.doc_id_column)
    statements = [str(s) for s in queries[args.query_column]]
    names = queries.column_names
    answers = [str(a) for a in queries[args.answer_column]] if args.answer_column in names else None
    subjects = [str(s) for s in queries[args.subject_column]] if args.subject_column in names else None
    relations = [str(r) for r in queries[args.relation_column]] if args.relation_column in names else None
    qids = [str(q) for q in queries["query_id"]] if "query_id" in names else [str(i) for i in range(len(queries))]
    by_answer: dict[str, list[int]] = {}
    if "masked_answer" in corpus.column_names:
        for i, a in enumerate(corpus["masked_answer"]):
            by_answer.setdefault(str(a).lower(), []).append(i)
    answers_by_rel: dict[str, set[str]] = {}
    if answers is not None:
        for q in range(len(queries)):
            answers_by_rel.setdefault(relations[q] if relations else "", set()).add(answers[q])
    bm25 = bm25 or BM25Ranker(texts)
    top, _ = bm25.retrieve([statements[int(q)] for q in rows], k=max(30, 4 * args.n_bm25))
    out: dict[str, list[Any]] = {k: [] for k in ("statement", "sentence", "label", "query_id", "row", "kind")}

    def add(stmt: str, r: int, label: int, q: int, kind: str) -> None:
        out["statement"].append(stmt)
        out["sentence"].append(texts[r])
        out["label"].append(label)
        out["query_id"].append(qids[q])
        out["row"].append(int(r))
        out["kind"].append(kind)

    def mentioning(needle: str, rng: np.random.Generator, exclude: set[int], n: int) -> list[int]:
        needle = needle.lower().strip()
        if not needle or n <= 0:
            return []
        word = re.compile(r"(?<!\w)" + re.escape(needle) + r"(?!\w)")
        hits = [i for i, t in enumerate(lowered) if needle in t and i not in exclude and word.search(t)]
        return [int(i) for i in rng.permutation(hits)[:n]] if hits else []

    for j, q in enumerate(int(r) for r in rows):
        rng = np.random.default_rng([args.seed, q])
        prop = props[q]
        positives = sorted(prop)
        if args.max_positives is not None and len(positives) > args.max_positives:
            positives = sorted(rng.permutation(positives)[: args.max_positives].tolist())
        for r in positives:
            add(statements[q], r, 1, q, "proponent")
        used = set(prop)
        hard = [int(d) for d in top[j] if int(d) not in used][: args.n_bm25]
        for r in hard:
            add(statements[q], r, 0, q, "bm25")
        used |= set(hard)
        if subjects is not None:
            for r in mentioning(subjects[q], rng, used, args.n_subject_other):
                add(statements[q], r, 0, q, "subject_other")
                used.add(r)
        if answers is not None and args.n_same_answer:
            pool = by_answer.get(answers[q].lower(), []) if by_answer else []
            picks = [int(i) for i in rng.permutation(pool) if int(i) not in used][: args.n_same_answer] if pool else []
            picks = picks or mentioning(answers[q], rng, used, args.n_same_answer)
            for r in picks:
                add(statements[q], r, 0, q, "same_answer")
                used.add(r)
        for r in rng.choice(len(texts), size=min(args.n_random, len(texts)), replace=False).tolist():
            if int(r) not in used:
                add(statements[q], int(r), 0, q, "random")
        if answers is not None and args.n_swaps and answers[q] and answers[q] in statements[q]:
            others = sorted(answers_by_rel.get(relations[q] if relations else "", set()) - {answers[q]})
            for r in positives[:2]:
                for other in rng.permutation(others)[: args.n_swaps].tolist() if others else []:
                    if str(other).lower() not in lowered[r]:
                        add(statements[q].replace(answers[q], str(other)), r, 0, q, "answer_swap")
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


def _length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within windows of 50 batches, shuffle the batches."""
    order = rng.permutation(len(lengths))
    window = 50 * batch_size
    batches: list[np.ndarray] = []
    for lo in range(0, len(order), window):
        chunk = order[lo : lo + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _score(model: Any, tokenizer: Any, pairs: dict[str, list[Any]], args: VerifierTrainingArguments) -> np.ndarray:
    """P(supports) of every pair, scored in length-sorted chunks (the returned order is the pairs' order)."""
    import torch

    model.eval()
    n = len(pairs["label"])
    out = np.zeros(n, dtype=np.float64)
    order = np.argsort([len(s) + len(t) for s, t in zip(pairs["statement"], pairs["sentence"])], kind="stable")
    with torch.inference_mode():
        for lo in range(0, n, 64):
            idx = order[lo : lo + 64].tolist()
            enc = tokenizer(
                [pairs["statement"][i] for i in idx],
                [pairs["sentence"][i] for i in idx],
                truncation="only_second",
                max_length=args.max_length,
                padding=True,
                return_tensors="pt",
            ).to(args.device)
            out[idx] = torch.softmax(model(**enc).logits.float(), -1)[:, 1].cpu().numpy()
    return out


def _tune_threshold(prob: np.ndarray, labels: np.ndarray) -> float:
    """The decision threshold (grid 0.01..0.99) with the best pair F1 on these (dev) pairs."""
    grid = np.round(np.linspace(0.01, 0.99, 99), 2)
    f1s = [_pair_metrics(prob, labels, float(t))["f1"] for t in grid]
    return float(grid[int(np.argmax(f1s))])


def _bm25_pair_scores(bm25: Any, pairs: dict[str, list[Any]]) -> np.ndarray:
    """BM25 score of each pair's sentence for its statement (the simple baseline of the pair report)."""
    out = np.zeros(len(pairs["label"]), dtype=np.float64)
    by_statement: dict[str, list[int]] = {}
    for i, st in enumerate(pairs["statement"]):
        by_statement.setdefault(st, []).append(i)
    for st, idx in by_statement.items():
        scores = bm25.scores(st)
        out[idx] = scores[[pairs["row"][i] for i in idx]]
    return out


def _baselines(
    bm25: Any, dev_pairs: dict[str, list[Any]], eval_pairs: dict[str, list[Any]]
) -> dict[str, dict[str, float]]:
    """Always-yes and a BM25 score threshold (tuned on dev pairs for pair F1) on the held-out pairs."""
    dev_s, ev_s = _bm25_pair_scores(bm25, dev_pairs), _bm25_pair_scores(bm25, eval_pairs)
    dev_y, ev_y = np.asarray(dev_pairs["label"]), np.asarray(eval_pairs["label"])
    cands = np.unique(np.quantile(dev_s, np.linspace(0.0, 1.0, 201)))
    best = max(cands.tolist(), key=lambda t: _pair_metrics(dev_s, dev_y, t)["f1"]) if len(cands) else 0.0
    return {
        "always_yes": _pair_metrics(np.ones(len(ev_y)), ev_y, 0.5),
        "bm25_threshold": {**_pair_metrics(ev_s, ev_y, float(best)), "threshold": float(best)},
    }


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
        if args.freeze_embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)
        model.to(args.device)
        labels = torch.tensor(train_pairs["label"])
        pos_weight = float((labels == 0).sum()) / max(1.0, float((labels == 1).sum()))
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, pos_weight], device=args.device))
        params = [p for p in model.parameters() if p.requires_grad]
        optim = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=0.01)
        n = len(labels)
        lengths = np.asarray([len(a) + len(b) for a, b in zip(train_pairs["statement"], train_pairs["sentence"])])
        steps = args.epochs * math.ceil(n / args.batch_size)
        sched = get_linear_schedule_with_warmup(optim, int(0.1 * steps), steps)
        gen = np.random.default_rng(args.seed)
        bar = tqdm(total=steps, desc="Training verifier", disable=not progress)
        losses = []
        for _epoch in range(args.epochs):
            model.train()
            for batch in _length_batches(lengths, args.batch_size, gen):
                idx = batch.tolist()
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
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                losses.append(loss.item())
                bar.update(1)
        bar.close()
    train_seconds = time.perf_counter() - start
    dev_prob = _score(model, tokenizer, dev_pairs, args)
    dev_labels = np.asarray(dev_pairs["label"])
    threshold = _tune_threshold(dev_prob, dev_labels)
    min_overlap = 0.0
    if args.prescreen_keep is not None:
        pos = [i for i, y in enumerate(dev_pairs["label"]) if y == 1]
        min_overlap = tune_min_overlap(
            [dev_pairs["statement"][i] for i in pos], [dev_pairs["sentence"][i] for i in pos], args.prescreen_keep
        )
    all_ids = list(queries["query_id"]) if "query_id" in queries.column_names else list(range(len(queries)))
    report: dict[str, Any] = {
        "trained_by": "hf_datavalue train-verifier (a trained cross-encoder verifier, not the paper's LLM)",
        "base_model": args.base_model,
        "threshold": threshold,
        "min_overlap": min_overlap,
        "max_length": args.max_length,
        "train_relations": train_rel,
        "eval_relations": eval_rel,
        "n_train_queries": int(len(train_rows)),
        "n_dev_queries": int(len(dev)),
        "n_eval_queries": int(len(eval_rows)),
        "eval_query_ids": [str(all_ids[int(i)]) for i in eval_rows],
        "n_train_pairs": n,
        "train_pairs_by_kind": {k: train_pairs["kind"].count(k) for k in sorted(set(train_pairs["kind"]))},
        "train_seconds": train_seconds,
        "loss_first_epoch": float(np.mean(losses[: max(1, len(losses) // args.epochs)])) if losses else None,
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
        report["eval_baselines"] = _baselines(bm25, dev_pairs, eval_pairs)
        if min_overlap > 0:
            passed = np.asarray(
                [overlap(a, b) >= min_overlap for a, b in zip(eval_pairs["statement"], eval_pairs["sentence"])]
            )
            report["eval_with_prescreen"] = _pair_metrics(np.where(passed, eval_prob, 0.0), ev_labels, threshold)
        if report["eval"]["f1"] <= report["eval_baselines"]["always_yes"]["f1"]:
            logger.warning(
                "the trained verifier is no better than answering 'supports' to every pair on held-out relations "
                "(pair F1 %.3f vs %.3f): train longer, on more pairs, or from a stronger encoder",
                report["eval"]["f1"],
                report["eval_baselines"]["always_yes"]["f1"],
            )
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    write_json_atomic(Path(out) / "training_report.json", report)
    write_json_atomic(
        Path(out) / VERIFIER_CONFIG,
        {
            k: report[k]
            for k in ("trained_by", "base_model", "threshold", "min_overlap", "max_length", "train_relations")
        },
    )
    return report
