"""GOT-D downstream check (Kang et al., ICLR 2024, local small-scale variant): does the selected data help a model?

    PYTHONPATH=src HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false .venv/bin/python benchmarks/gotd/downstream.py

All defaults: `--methods none,random,dsir,gotd --k 2000 --seeds 3 --threads 2`, a 4-layer, 128-wide GPT-2
(1.33M parameters), 3 pre-training epochs. Measured runtime on the idle 2-core machine: 1,264 s for
`--methods none,scratch,random,dsir,gotd` (stage 1 628 s, each fine-tune 30-35 s); a re-run with the same stage-1
settings re-uses the stage-1 checkpoint (the low-label variant `--max-ft 250 --seeds 5` then takes 284 s).
`--estimate` times a few steps of each kind and prints the projection instead of running.

What it does. A small GPT-2 (built from a config, nothing downloaded) is pre-trained from scratch on the whole
candidate pool and stands in for the pre-trained model of the paper. For each method, that checkpoint continues
causal-LM training on the k pool rows the method selected (`none` = no continuation; the optional `scratch` = no
pre-training at all, a sanity floor: if `none` is not clearly above it, pre-training does not matter here and
neither can the selection), then is evaluated on AG News in two ways: (A) token-weighted perplexity of the
continued LM on held-out AG News texts, and (B) accuracy (overall and per class, Business in particular) of
`GPT2ForSequenceClassification` initialised from the continued checkpoint and fine-tuned on the labelled target
texts, over `--seeds` seeds (mean and sample std; a seed fixes the new head and the batch order, so the methods
are compared pairwise on the same seeds).

Data (`--data-dir`, written by `prepare_text.py` and `quality.py`):

* pool = `pool_quality.jsonl` (15,890 rows): the AG News *test* items, skewed (all World, Sports, Sci/Tech and only
  190 Business), then 10,000 500-character chunks of 7 text domains. It is the whole pre-training corpus and the
  candidate set every method selects from (`selections.json`, row ids = `row_idx`). Deviation from the paper:
  there the candidates are other corpora than the task's; here the pool holds AG News test items, because the
  AG News train texts are needed as target, fine-tuning and evaluation sets, and the pool must not contain them.
* target = `target.jsonl` (5,000 AG News train texts): the first `n_target` (2,000, from `selections.json`) are
  the GOT-D target sample; the same texts, with their labels, are the fine-tuning set (in the paper, the target
  is the task's unlabelled training text). The remaining 3,000 are held out from everything (pool, selection,
  fine-tuning): all of them serve both the perplexity (A) and the accuracy (B) (capped by `--max-eval`).

Design notes. Byte-level BPE (`tokenizers`, `--vocab` 4096 incl. `<|endoftext|>` and `<pad>`) trained on the pool
texts (deterministic), wrapped as `PreTrainedTokenizerFast` and saved with the stage-1 checkpoint. Every text is
one sequence: its tokens truncated to `--max-len` - 1 = 127, plus `<|endoftext|>` (the classifier reads that last
token). An AG News item is ~57 tokens (median); a 500-character chunk ~150, so 8,486 of the 10,000 chunks lose
their tail (the pool's 1.87M tokens become 1.59M). Sequences are right-padded per batch, batches grouped by length
(within windows of 50 batches) to waste little compute on padding. Plain torch loops, AdamW, linear warmup (6%)
and cosine decay (no zero-learning-rate first step), gradient clipping at 1. Stage 1 (pre-training) is saved
under `--out-dir/stage1-<hash of the pool and its settings>/` and re-used when present, so the expensive stage
runs once. Stage 2 runs the same number of optimizer steps for every method, ceil(cont_epochs * k / batch), over
whole shuffled passes of the selected rows as given (duplicates kept; a selection with fewer than k rows, e.g.
`knn_dedup`, is repeated more), so its token count differs between methods (short news items vs long chunks) and
is reported. The continued models are saved under the stage-1 folder. Stage 1 has already seen every selected
row once; stage 2 re-weights the training toward the selection, as continued pre-training on a part of the
pre-training distribution does. One JSON line per (method, k) goes to stdout and is appended to `--results`; a
markdown table is printed at the end; progress and stage timings go to stderr.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["World", "Sports", "Business", "Sci/Tech"]
EOS, PAD = "<|endoftext|>", "<pad>"
NO_SELECTION = ("none", "scratch")  # methods without stage 2


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@dataclass
class Data:
    pool_texts: list[str]
    pool_tags: list[str]
    ft_texts: list[str]
    ft_labels: np.ndarray
    eval_texts: list[str]
    eval_labels: np.ndarray
    selections: dict[str, dict[str, list[int]]]
    pool_sha: str


def load_data(data_dir: Path, max_ft: int | None, max_eval: int | None) -> Data:
    meta = json.loads((data_dir / "selections.json").read_text())
    pool_path = data_dir / meta.get("pool", "pool_quality.jsonl")
    pool = read_jsonl(pool_path)
    assert [r["row_idx"] for r in pool] == list(range(len(pool))), "pool row_idx must be the line number"
    target = read_jsonl(data_dir / meta.get("target", "target.jsonl"))
    n_target = int(meta["n_target"])
    assert len(target) > n_target, f"target.jsonl has {len(target)} rows, need more than n_target={n_target}"

    def labelled(rows: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
        labels = [LABELS.index(r["tag"].split(":", 1)[1]) for r in rows]
        return [r["text"] for r in rows], np.asarray(labels, dtype=np.int64)

    ft_texts, ft_labels = labelled(target[:n_target][:max_ft])
    eval_texts, eval_labels = labelled(target[n_target:][:max_eval])
    for method, per_k in meta["selections"].items():
        for k, ids in per_k.items():
            assert all(0 <= i < len(pool) for i in ids), f"{method}/{k}: row id outside the pool"
    return Data(
        pool_texts=[r["text"] for r in pool],
        pool_tags=[r["tag"] for r in pool],
        ft_texts=ft_texts,
        ft_labels=ft_labels,
        eval_texts=eval_texts,
        eval_labels=eval_labels,
        selections=meta["selections"],
        pool_sha=hashlib.sha1(pool_path.read_bytes()).hexdigest(),
    )


def train_tokenizer(texts: list[str], vocab_size: int, max_len: int) -> Any:
    """Byte-level BPE on `texts` (deterministic: same texts, same vocabulary), as a `PreTrainedTokenizerFast`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=PAD, model_max_length=max_len
    )


def encode(tokenizer: Any, texts: list[str], max_len: int) -> list[list[int]]:
    """One sequence per text: its tokens truncated to `max_len - 1`, then the end-of-text token."""
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_len - 1)["input_ids"]
    return [list(x) + [tokenizer.eos_token_id] for x in ids]


def plan_batches(lengths: np.ndarray, steps: int, batch: int, seed: int, window: int = 50) -> list[np.ndarray]:
    """`steps` batches of `batch` row indices: whole shuffled passes over the rows (the last pass cut), grouped by
    length within windows of `window` batches, batch order shuffled."""
    rng = np.random.default_rng(seed)
    n_rows = steps * batch
    passes = math.ceil(n_rows / len(lengths))
    stream = np.concatenate([rng.permutation(len(lengths)) for _ in range(passes)])[:n_rows]
    out: list[np.ndarray] = []
    for start in range(0, n_rows, batch * window):
        chunk = stream[start : start + batch * window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
    return [out[i] for i in rng.permutation(len(out))]


def padded_tokens(plan: list[np.ndarray], lengths: np.ndarray) -> int:
    return int(sum(len(b) * lengths[b].max() for b in plan))


def collate(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def lr_factor(step: int, steps: int, warmup: float = 0.06) -> float:
    """Linear warmup over the first 6% of the steps, then cosine decay; no step has a zero learning rate (the
    first step of `transformers`' schedules does, which matters for runs of a few steps)."""
    w = round(warmup * steps)
    if step < w:
        return (step + 1) / (w + 1)
    return 0.5 * (1 + math.cos(math.pi * (step - w) / max(1, steps - w)))


def train(
    model: torch.nn.Module,
    seqs: list[list[int]],
    plan: list[np.ndarray],
    lr: float,
    pad_id: int,
    tag: str,
    labels: np.ndarray | None = None,
    weight_decay: float = 0.01,
    n_logs: int = 10,
) -> dict[str, Any]:
    """Causal-LM training (`labels` None) or sequence classification, one optimizer step per batch of `plan`."""
    steps = len(plan)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(lr_factor, steps=steps))
    model.train()
    t0 = time.perf_counter()
    tokens, losses, every = 0, [], max(1, steps // n_logs)
    for step, idx in enumerate(plan, 1):
        ids, mask = collate([seqs[i] for i in idx], pad_id)
        if labels is None:
            out = model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100))
        else:
            out = model(input_ids=ids, attention_mask=mask, labels=torch.as_tensor(labels[idx]))
        out.loss.backward()
        losses.append(out.loss.item())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(mask.sum())
        if step % every == 0 or step == steps:
            dt = time.perf_counter() - t0
            log(f"{tag} step {step}/{steps} loss {np.mean(losses[-every:]):.3f} ({tokens / dt:,.0f} tok/s)")
    model.eval()
    tail = losses[-max(1, steps // 10) :]
    return {"steps": steps, "tokens": tokens, "seconds": time.perf_counter() - t0, "final_loss": float(np.mean(tail))}


def eval_batches(lengths: np.ndarray, batch: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch] for i in range(0, len(order), batch)]


@torch.inference_mode()
def perplexity(model: torch.nn.Module, seqs: list[list[int]], pad_id: int, batch: int) -> tuple[float, int]:
    """Token-weighted perplexity: every token after the first of each sequence (end-of-text included)."""
    model.eval()
    total, count = 0.0, 0
    for idx in eval_batches(np.array([len(s) for s in seqs]), batch):
        ids, mask = collate([seqs[i] for i in idx], pad_id)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        target = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((target != -100).sum())
    return math.exp(total / count), count


@torch.inference_mode()
def predict(model: torch.nn.Module, seqs: list[list[int]], pad_id: int, batch: int) -> np.ndarray:
    model.eval()
    pred = np.empty(len(seqs), dtype=np.int64)
    for idx in eval_batches(np.array([len(s) for s in seqs]), batch):
        ids, mask = collate([seqs[i] for i in idx], pad_id)
        pred[idx] = model(input_ids=ids, attention_mask=mask).logits.argmax(-1).numpy()
    return pred


def selection_stats(ids: list[int], tags: list[str]) -> dict[str, Any]:
    sel = [tags[i] for i in ids]
    news = [t.split(":", 1)[1] for t in sel if t.startswith("ag_news:")]
    counts = collections.Counter(news)
    return {
        "rows": len(ids),
        "distinct": len(set(ids)),
        "news_share": round(len(news) / len(sel), 4) if sel else None,
        "business_share": round(counts["Business"] / len(sel), 4) if sel else None,
        "business_share_of_news": round(counts["Business"] / len(news), 4) if news else None,
        "news_labels": {lab: counts.get(lab, 0) for lab in LABELS},
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "results" / "gotd_emb")
    p.add_argument("--out-dir", type=Path, default=ROOT / "outputs" / "gotd_downstream")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "gotd" / "downstream.jsonl")
    p.add_argument(
        "--methods",
        default="none,random,dsir,gotd",
        help="comma list: keys of selections.json, `none` (no continuation), `scratch` (no pre-training at all)",
    )
    p.add_argument("--k", default="2000", help="comma list of selection sizes (keys of selections.json)")
    p.add_argument("--seeds", type=int, default=3, help="fine-tuning seeds 0..n-1 per method")
    p.add_argument("--seed", type=int, default=0, help="seed of stage 1 and stage 2")
    p.add_argument("--threads", type=int, default=2)
    # model and tokenizer
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--max-len", type=int, default=128)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)
    # stage 1: pre-training on the pool
    p.add_argument("--pretrain-epochs", type=float, default=3.0)
    p.add_argument("--pretrain-lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=32, help="batch size of stages 1 and 2")
    # stage 2: continued pre-training on the selection
    p.add_argument("--cont-epochs", type=float, default=2.0, help="steps = ceil(cont_epochs * k / batch)")
    p.add_argument("--cont-lr", type=float, default=3e-4)
    # fine-tuning for classification
    p.add_argument("--ft-epochs", type=float, default=3.0)
    p.add_argument("--ft-lr", type=float, default=5e-4)
    p.add_argument("--ft-batch", type=int, default=32)
    p.add_argument("--eval-batch", type=int, default=64)
    # smoke-test limits
    p.add_argument("--max-ft", type=int, default=None, help="use only the first N labelled target texts")
    p.add_argument("--max-eval", type=int, default=None, help="use only the first N held-out texts")
    p.add_argument("--estimate", action="store_true", help="time a few steps of each kind, print the projection")
    p.add_argument("--estimate-steps", type=int, default=6)
    return p


def stage1_key(args: argparse.Namespace, pool_sha: str) -> tuple[str, dict[str, Any]]:
    names = ["vocab", "max_len", "n_layer", "n_embd", "n_head", "dropout", "pretrain_epochs", "pretrain_lr", "batch"]
    key = {"pool_sha1": pool_sha, "seed": args.seed} | {n: getattr(args, n) for n in names}
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10], key


def new_model(args: argparse.Namespace, tokenizer: Any) -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=args.max_len,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        resid_pdrop=args.dropout,
        embd_pdrop=args.dropout,
        attn_pdrop=args.dropout,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(args.seed)
    return GPT2LMHeadModel(cfg)


def classifier(ckpt: Path, pad_id: int, seed: int) -> torch.nn.Module:
    from transformers import GPT2ForSequenceClassification

    torch.manual_seed(seed)  # the new classification head
    return GPT2ForSequenceClassification.from_pretrained(ckpt, num_labels=len(LABELS), pad_token_id=pad_id)


def steps_for(epochs: float, n: int, batch: int) -> int:
    return max(1, math.ceil(epochs * n / batch))


def estimate(args: argparse.Namespace, data: Data, tokenizer: Any, runs: list[tuple[str, int | None]]) -> None:
    """Time a few steps of each kind on this machine and project the run's total from padded-token counts."""
    pad = tokenizer.pad_token_id
    pool = encode(tokenizer, data.pool_texts, args.max_len)
    ft, ev = encode(tokenizer, data.ft_texts, args.max_len), encode(tokenizer, data.eval_texts, args.max_len)
    pool_len, ft_len, ev_len = (np.array([len(s) for s in x]) for x in (pool, ft, ev))
    m, warm = args.estimate_steps, 2

    def rate(fn: Any, batches: list[np.ndarray], lengths: np.ndarray) -> float:
        for b in batches[:warm]:
            fn(b)
        t0 = time.perf_counter()
        for b in batches[warm : warm + m]:
            fn(b)
        return padded_tokens(batches[warm : warm + m], lengths) / (time.perf_counter() - t0)

    model = new_model(args, tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def lm_step(b: np.ndarray) -> None:
        ids, mask = collate([pool[i] for i in b], pad)
        model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    stage1_plan = plan_batches(pool_len, steps_for(args.pretrain_epochs, len(pool), args.batch), args.batch, 0)
    lm_rate = rate(lm_step, stage1_plan, pool_len)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        clf = classifier(Path(tmp), pad, 0)
    opt = torch.optim.AdamW(clf.parameters(), lr=1e-4)

    def clf_step(b: np.ndarray) -> None:
        ids, mask = collate([ft[i] for i in b], pad)
        clf(input_ids=ids, attention_mask=mask, labels=torch.as_tensor(data.ft_labels[b])).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    ft_plan = plan_batches(ft_len, steps_for(args.ft_epochs, len(ft), args.ft_batch), args.ft_batch, 0)
    clf_rate = rate(clf_step, ft_plan, ft_len)

    def fwd(b: np.ndarray) -> None:
        with torch.inference_mode():
            ids, mask = collate([ev[i] for i in b], pad)
            model(input_ids=ids, attention_mask=mask)

    ev_plan = eval_batches(ev_len, args.eval_batch)
    fwd_rate = rate(fwd, ev_plan[::-1], ev_len)  # the longest batches first
    ev_tok = padded_tokens(ev_plan, ev_len)
    s1 = padded_tokens(stage1_plan, pool_len) / lm_rate
    s2 = 0.0
    for method, k in runs:
        if k is not None:
            ids = data.selections[method][str(k)]
            lens = pool_len[ids]
            s2 += padded_tokens(plan_batches(lens, steps_for(args.cont_epochs, k, args.batch), args.batch, 0), lens)
    s2 /= lm_rate
    per_ft = padded_tokens(ft_plan, ft_len) / clf_rate + ev_tok / fwd_rate
    n = len(runs)
    proj = {
        "threads": args.threads,
        "padded_tok_per_s": {"lm_train": round(lm_rate), "clf_train": round(clf_rate), "forward": round(fwd_rate)},
        "stage1_s": round(s1),
        "stage2_s_all": round(s2),
        "ppl_s_all": round(n * ev_tok / fwd_rate),
        "finetune_s_each": round(per_ft, 1),
        "finetune_s_all": round(n * args.seeds * per_ft),
    }
    proj["total_s"] = proj["stage1_s"] + proj["stage2_s_all"] + proj["ppl_s_all"] + proj["finetune_s_all"]
    proj["total_min"] = round(proj["total_s"] / 60, 1)
    proj["pool_tokens"] = int(pool_len.sum())
    proj["truncated_pool_rows"] = int((pool_len >= args.max_len).sum())
    print(json.dumps(proj), flush=True)


@dataclass
class Encoded:
    pool: list[list[int]]
    pool_len: np.ndarray
    ft: list[list[int]]
    ft_len: np.ndarray
    ev: list[list[int]]
    pad: int


def run_stage1(args: argparse.Namespace, tokenizer: Any, enc: Encoded, s1_dir: Path, key: dict[str, Any]) -> dict:
    """Pre-train on the whole pool and save model + tokenizer, or re-use the checkpoint of the same settings."""
    if (s1_dir / "stage1.json").exists():
        stage1 = json.loads((s1_dir / "stage1.json").read_text()) | {"reused": True}
        log(f"stage 1 re-used from {s1_dir} (trained in {stage1['seconds']:.0f}s)")
        return stage1
    log(f"stage 1: pre-training on {len(enc.pool)} pool rows -> {s1_dir}")
    model = new_model(args, tokenizer)
    log(f"model: {sum(p.numel() for p in model.parameters()):,} parameters")
    plan = plan_batches(
        enc.pool_len, steps_for(args.pretrain_epochs, len(enc.pool), args.batch), args.batch, args.seed
    )
    stage1 = train(model, enc.pool, plan, args.pretrain_lr, enc.pad, "stage1") | {"key": key}
    model.save_pretrained(s1_dir)
    tokenizer.save_pretrained(s1_dir)
    (s1_dir / "stage1.json").write_text(json.dumps(stage1, indent=1))  # written last: marks it complete
    log(f"stage 1 done in {stage1['seconds']:.0f}s")
    return stage1 | {"reused": False}


def run_method(
    args: argparse.Namespace, data: Data, enc: Encoded, s1_dir: Path, method: str, k: int | None
) -> dict[str, Any]:
    """Stage 2 (continued pre-training on the selection), target perplexity, fine-tuning accuracy over seeds."""
    from transformers import GPT2Config, GPT2LMHeadModel

    row: dict[str, Any] = {"method": method, "k": k}
    seconds: dict[str, float] = {"stage2": 0.0}
    if k is None:  # `none`: the stage-1 model; `scratch`: a random initialisation of the same config
        ckpt = s1_dir
        if method == "scratch":
            torch.manual_seed(args.seed)
            ckpt = s1_dir / "scratch"
            GPT2LMHeadModel(GPT2Config.from_pretrained(s1_dir)).save_pretrained(ckpt)
        row |= {"rows": 0, "distinct": 0, "news_share": None, "business_share": None, "business_share_of_news": None}
        row |= {"cont_steps": 0, "train_tokens": 0}
    else:
        ids = [int(i) for i in data.selections[method][str(k)]]
        row |= selection_stats(ids, data.pool_tags)
        lens = enc.pool_len[ids]
        plan = plan_batches(lens, steps_for(args.cont_epochs, k, args.batch), args.batch, args.seed)
        model = GPT2LMHeadModel.from_pretrained(s1_dir)
        log(f"stage 2 [{method} k={k}]: {len(plan)} steps on {row['distinct']} distinct rows")
        res = train(model, [enc.pool[i] for i in ids], plan, args.cont_lr, enc.pad, f"stage2[{method},{k}]")
        ckpt = s1_dir / f"cont-{method}-k{k}"
        model.save_pretrained(ckpt)
        row |= {"cont_steps": res["steps"], "train_tokens": res["tokens"]}
        row["cont_final_loss"] = round(res["final_loss"], 4)
        seconds["stage2"] = round(res["seconds"], 1)
        del model

    t0 = time.perf_counter()
    ppl, n_tok = perplexity(GPT2LMHeadModel.from_pretrained(ckpt), enc.ev, enc.pad, args.eval_batch)
    seconds["ppl"] = round(time.perf_counter() - t0, 1)
    row |= {"target_ppl": round(ppl, 3), "ppl_tokens": n_tok}
    log(f"[{method} k={k}] target perplexity {ppl:.2f} on {n_tok:,} tokens ({seconds['ppl']}s)")

    t0 = time.perf_counter()
    accs, per_class = [], []
    for seed in range(args.seeds):
        clf = classifier(ckpt, enc.pad, seed)
        plan = plan_batches(enc.ft_len, steps_for(args.ft_epochs, len(enc.ft), args.ft_batch), args.ft_batch, seed)
        tag = f"finetune[{method},{k},seed {seed}]"
        train(clf, enc.ft, plan, args.ft_lr, enc.pad, tag, labels=data.ft_labels, n_logs=3)
        correct = predict(clf, enc.ev, enc.pad, args.eval_batch) == data.eval_labels
        accs.append(float(correct.mean()))
        per_class.append([float(correct[data.eval_labels == c].mean()) for c in range(len(LABELS))])
        log(f"[{method} k={k} seed {seed}] accuracy {accs[-1]:.4f}, Business {per_class[-1][2]:.4f}")
    seconds["finetune"] = round(time.perf_counter() - t0, 1)
    pc = np.array(per_class)
    return row | {
        "acc_mean": round(float(np.mean(accs)), 4),
        "acc_std": round(float(np.std(accs, ddof=1)), 4) if len(accs) > 1 else 0.0,
        "accs": [round(a, 4) for a in accs],
        "business_acc_mean": round(float(pc[:, 2].mean()), 4),
        "business_accs": [round(float(a), 4) for a in pc[:, 2]],
        "per_class_acc_mean": {lab: round(float(pc[:, c].mean()), 4) for c, lab in enumerate(LABELS)},
        "n_ft": len(enc.ft),
        "n_eval": len(enc.ev),
        "seconds": seconds,
    }


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print(
        "| method | k | distinct | news share | Business / news | stage-2 tokens | target ppl | accuracy "
        "| Business acc | s (stage 2 + ppl + fine-tunes) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["seconds"]
        print(
            f"| {r['method']} | {r['k'] or '-'} | {r['distinct']} | {fmt(r['news_share'])} "
            f"| {fmt(r['business_share_of_news'])} | {r['train_tokens']:,} | {r['target_ppl']:.2f} "
            f"| {r['acc_mean']:.4f} ± {r['acc_std']:.4f} | {r['business_acc_mean']:.4f} "
            f"| {s['stage2']:.0f} + {s['ppl']:.0f} + {s['finetune']:.0f} |"
        )


def main() -> None:
    args = build_parser().parse_args()
    torch.set_num_threads(args.threads)
    from transformers import PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    start = time.perf_counter()
    methods = [m for m in args.methods.split(",") if m]
    ks = [int(k) for k in args.k.split(",") if k]
    runs: list[tuple[str, int | None]] = [(m, None) for m in methods if m in NO_SELECTION]
    runs += [(m, k) for m in methods if m not in NO_SELECTION for k in ks]
    data = load_data(args.data_dir, args.max_ft, args.max_eval)
    for method, k in runs:
        if k is not None and str(k) not in data.selections.get(method, {}):
            raise SystemExit(f"selections.json has no {method!r} selection of k={k}")
    log(
        f"pool {len(data.pool_texts)} rows, fine-tune {len(data.ft_texts)} labelled target texts, "
        f"eval {len(data.eval_texts)} held-out texts; runs: {runs}"
    )
    tag, key = stage1_key(args, data.pool_sha)
    s1_dir = args.out_dir / f"stage1-{tag}"

    t0 = time.perf_counter()
    if (s1_dir / "stage1.json").exists():
        tokenizer = PreTrainedTokenizerFast.from_pretrained(s1_dir)
    else:
        tokenizer = train_tokenizer(data.pool_texts, args.vocab, args.max_len)
    if args.estimate:
        estimate(args, data, tokenizer, runs)
        return
    pool, ft, ev = (encode(tokenizer, x, args.max_len) for x in (data.pool_texts, data.ft_texts, data.eval_texts))
    pool_len, ft_len = np.array([len(s) for s in pool]), np.array([len(s) for s in ft])
    enc = Encoded(pool=pool, pool_len=pool_len, ft=ft, ft_len=ft_len, ev=ev, pad=tokenizer.pad_token_id)
    log(
        f"tokenizer + encoding {time.perf_counter() - t0:.1f}s: pool {pool_len.sum():,} tokens "
        f"({(pool_len >= args.max_len).sum()} rows truncated to {args.max_len}), fine-tune {ft_len.sum():,}, "
        f"eval {sum(map(len, ev)):,}"
    )
    stage1 = run_stage1(args, tokenizer, enc, s1_dir, key)
    summary = {"dir": str(s1_dir), "reused": stage1["reused"], "seconds": round(stage1["seconds"], 1)}
    summary |= {"steps": stage1["steps"], "tokens": stage1["tokens"], "final_loss": round(stage1["final_loss"], 4)}
    config = {n: getattr(args, n) for n in ["n_layer", "n_embd", "n_head", "vocab", "max_len", "batch"]}
    config |= {n: getattr(args, n) for n in ["pretrain_epochs", "pretrain_lr", "cont_epochs", "cont_lr"]}
    config |= {n: getattr(args, n) for n in ["ft_epochs", "ft_lr", "ft_batch", "seeds", "threads"]}
    rows = []
    for method, k in runs:
        row = run_method(args, data, enc, s1_dir, method, k) | {"stage1": summary, "config": config}
        print(json.dumps(row), flush=True)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        rows.append(row)
    print_table(rows)
    print(f"\nstage 1: {stage1['seconds']:.0f}s ({'re-used' if stage1['reused'] else 'trained'}), {s1_dir}")
    print(f"wall time of this run: {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
