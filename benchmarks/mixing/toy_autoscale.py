"""Toy-scale AutoScale claim on `../shared/data/multidomain_text` (7 domains), CPU only.

1. DDO at a small budget N1 and at N2 = 4·N1 (2·7+1 = 15 Trainer runs each, tiny GPT-2 from config,
   fixed-length 64-token blocks, BPE tokenizer trained locally).
2. AutoScale from the two DDO optima to a target budget N_T = 4·N2.
3. Train at N_T with AutoScale weights, uniform weights and the DDO-at-N1 weights; evaluate the mean
   per-domain validation loss along the way; report the steps AutoScale needs to reach uniform's final loss.

Usage:

```bash
PYTHONPATH=src python benchmarks/mixing/toy_autoscale.py --work outputs/mixing_bench --out benchmarks/results/mixing
```
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DOMAINS, prepare, tiny_gpt2  # noqa: E402

from hf_datavalue.mixing import AutoScale, DDOConfig, MixtureWeights, interleave_datasets  # noqa: E402
from hf_datavalue.training import DDORunner  # noqa: E402

logger = logging.getLogger("toy_autoscale")


def training_args(out: Path, batch: int, lr: float, eval_steps: int | None = None, seed: int = 0):
    from transformers import TrainingArguments

    kw = {}
    if eval_steps:
        kw = {"eval_strategy": "steps", "eval_steps": eval_steps}
    return TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        per_device_eval_batch_size=64,
        learning_rate=lr,
        warmup_steps=0.05,
        weight_decay=0.01,
        num_train_epochs=1,
        lr_scheduler_type="linear",
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        seed=seed,
        data_seed=seed,
        **kw,
    )


def final_run(name, weights, train, valid, total, out, batch, lr, eval_every, seed=0):
    from transformers import Trainer

    path = out / f"final_{name}_s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    mix = interleave_datasets(
        train, weights=weights, num_examples=total, seed=seed, stopping_strategy="all_exhausted"
    )  # weights are per block = per token
    trainer = Trainer(
        model=tiny_gpt2(seed=seed),
        args=training_args(out / f"trainer_{name}", batch, lr, eval_steps=eval_every, seed=seed),
        train_dataset=mix,
        eval_dataset=valid,
    )
    t0 = time.time()
    trainer.train()
    final = trainer.evaluate()
    # with a dict eval_dataset the Trainer logs one record per domain: merge them by step
    by_step: dict[int, dict] = {}
    for rec in [*trainer.state.log_history, {**final, "step": trainer.state.global_step}]:
        by_step.setdefault(int(rec.get("step", -1)), {}).update(rec)
    curve = []
    keys = [f"eval_{d}_loss" for d in DOMAINS]
    for step in sorted(by_step):
        rec = by_step[step]
        if all(k in rec for k in keys):
            losses = [rec[k] for k in keys]
            curve.append(
                {
                    "step": step,
                    "mean_loss": float(np.mean(losses)),
                    "mean_ppl": float(np.mean(np.exp(losses))),
                    "per_domain_loss": dict(zip(DOMAINS, map(float, losses))),
                }
            )
    res = {
        "name": name,
        "weights": weights.weights,
        "curve": curve,
        "seconds": time.time() - t0,
        "steps": trainer.state.global_step,
    }
    path.write_text(json.dumps(res, indent=2))
    return res


def steps_to_reach(curve, level, key="mean_loss"):
    """First (linearly interpolated) step at which a curve's `key` is <= level, or None."""
    prev = None
    for p in curve:
        if p[key] <= level:
            if prev is None:
                return float(p["step"])
            f = (prev[key] - level) / (prev[key] - p[key])
            return prev["step"] + f * (p["step"] - prev["step"])
        prev = p
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="outputs/mixing_bench", help="runs, caches, checkpoints (not committed)")
    ap.add_argument("--out", default="benchmarks/results/mixing", help="summary JSON and plots")
    ap.add_argument("--n1", type=int, default=1050, help="DDO small budget (64-token blocks)")
    ap.add_argument("--scale", type=int, default=4, help="N2 = scale*N1 and N_T = scale*N2")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the target-budget runs")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("transformers", "datasets", "hf_datavalue.mixing.sampler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    out = Path(args.work)
    res_dir = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res_dir.mkdir(parents=True, exist_ok=True)
    t_all = time.time()
    train, valid = prepare(cache=Path(args.work) / "cache")
    avail = {d: len(v) for d, v in train.items()}
    logger.info("train blocks per domain %s", avail)
    n1, n2 = args.n1, args.n1 * args.scale
    nt = n2 * args.scale
    found = {}
    for tag, n in (("n1", n1), ("n2", n2)):
        t0 = time.time()
        runner = DDORunner(
            train,
            valid,
            tiny_gpt2,
            training_args(out / "unused", args.batch, args.lr),
            base_budget=n,
            output_dir=out / f"ddo_{tag}",
            config=DDOConfig(x_down=0.2, x_up=3.0, metric="perplexity"),
            block_size=64,
        )
        try:
            found[tag] = runner.fit()
        except Exception as err:  # a degenerate fit is a result too: record and fall back to uniform
            logger.error("DDO at %s failed: %s", tag, err)
            raise
        logger.info(
            "DDO %s (%d blocks) in %.0fs: %s",
            tag,
            n,
            time.time() - t0,
            {k: round(v, 4) for k, v in found[tag].weights.items()},
        )
    scaler = AutoScale([found["n1"], found["n2"]])
    w_auto = scaler.predict(nt * 64)
    uniform = MixtureWeights(dict.fromkeys(DOMAINS, 1.0), unit="tokens", budget=nt * 64)
    logger.info("AutoScale weights at %d blocks: %s", nt, {k: round(v, 4) for k, v in w_auto.weights.items()})
    eval_every = max(1, nt // args.batch // 15)
    runs, per_seed = {}, {}
    for seed in args.seeds:
        for name, w in (("uniform", uniform), ("ddo_small", found["n1"]), ("autoscale", w_auto)):
            ex = MixtureWeights(w.weights, unit="examples")  # fixed-length blocks: per example = per token
            r = final_run(name, ex, train, valid, nt, out, args.batch, args.lr, eval_every, seed=seed)
            per_seed.setdefault(name, []).append(r)
            logger.info("%s seed %d: final mean loss %.4f", name, seed, r["curve"][-1]["mean_loss"])
    for name, rs in per_seed.items():  # the seed-mean curve (same evaluation steps in every seed)
        curve = []
        for points in zip(*[r["curve"] for r in rs]):
            curve.append(
                {
                    "step": points[0]["step"],
                    "mean_loss": float(np.mean([p["mean_loss"] for p in points])),
                    "mean_ppl": float(np.mean([p["mean_ppl"] for p in points])),
                    "mean_loss_per_seed": [p["mean_loss"] for p in points],
                    "mean_ppl_per_seed": [p["mean_ppl"] for p in points],
                }
            )
        runs[name] = {"curve": curve, "steps": rs[0]["steps"], "seconds": sum(r["seconds"] for r in rs)}
    uni_final = runs["uniform"]["curve"][-1]["mean_loss"]
    uni_final_ppl = runs["uniform"]["curve"][-1]["mean_ppl"]
    total_steps = runs["uniform"]["steps"]
    summary = {
        "budgets_blocks": {"n1": n1, "n2": n2, "target": nt},
        "seeds": args.seeds,
        "block_tokens": 64,
        "available_blocks": avail,
        "ddo_n1": found["n1"].weights,
        "ddo_n2": found["n2"].weights,
        "autoscale": w_auto.weights,
        "growth_ratios": scaler.growth_ratios,
        "final": {k: r["curve"][-1] for k, r in runs.items()},
        "steps_total": total_steps,
        "steps_to_uniform_final": {k: steps_to_reach(r["curve"], uni_final) for k, r in runs.items()},
        "steps_to_uniform_final_ppl": {
            k: steps_to_reach(r["curve"], uni_final_ppl, key="mean_ppl") for k, r in runs.items()
        },
        "wall_seconds": time.time() - t_all,
    }
    s = summary["steps_to_uniform_final"]["autoscale"]
    summary["autoscale_step_saving_vs_uniform"] = None if s is None else 1 - s / total_steps
    s = summary["steps_to_uniform_final_ppl"]["autoscale"]
    summary["autoscale_step_saving_vs_uniform_ppl"] = None if s is None else 1 - s / total_steps
    (res_dir / "toy_autoscale_summary.json").write_text(json.dumps(summary, indent=2))
    (res_dir / "toy_autoscale_curves.json").write_text(json.dumps({k: r["curve"] for k, r in runs.items()}, indent=2))
    plot(runs, res_dir / "toy_autoscale_curves.png", found, w_auto)
    logger.info("summary: %s", json.dumps(summary, indent=1))


def plot(runs, path, found, w_auto):
    from hf_datavalue.mixing.plots import plot_curves, plot_weights

    plot_curves(
        {k: ([p["step"] for p in r["curve"]], [p["mean_ppl"] for p in r["curve"]]) for k, r in runs.items()},
        path=path,
        ylabel="mean per-domain validation perplexity",
        title=f"Toy AutoScale at {runs['uniform']['steps']} steps (mean of {len(next(iter(runs.values()))['curve'][0]['mean_loss_per_seed'])} seeds)",
    )
    plot_weights(
        {"DDO N1": found["n1"], "DDO N2": found["n2"], "AutoScale N_T": w_auto},
        path=path.with_name("toy_autoscale_weights.png"),
    )


if __name__ == "__main__":
    main()
