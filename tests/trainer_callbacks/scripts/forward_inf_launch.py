"""Run by test_forward_inf_callback.py alone and under `accelerate launch --cpu --num_processes 2`.

Scores a 37-row training set (not divisible by 2 processes x batch 4) against 3 test rows at `trainer.evaluate()`,
per query and in group mode, and writes what each process saw to `<out>/rank<i>.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests folder

from accelerate import PartialState  # noqa: E402
from attribution.helpers import tiny_bert, token_dataset  # noqa: E402
from transformers import Trainer, TrainingArguments  # noqa: E402

from hf_datavalue.attribution import ForwardInfConfig  # noqa: E402
from hf_datavalue.trainer_callbacks import ForwardInfCallback  # noqa: E402


def main(out: str) -> None:
    model = tiny_bert(seed=0)
    train, test = token_dataset(37, seed=0), token_dataset(3, seed=1)
    args = TrainingArguments(out, per_device_eval_batch_size=4, report_to=[], use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=test)
    per_query = ForwardInfCallback(test, ForwardInfConfig(lr=1e-2), score_on="evaluate", trainer=trainer)
    group = ForwardInfCallback(None, ForwardInfConfig(mode="group", lr=1e-2), score_on="evaluate",
                               output_dir=f"{out}/group", trainer=trainer)  # fmt: skip
    trainer.add_callback(per_query)
    trainer.add_callback(group)
    trainer.evaluate()
    state = PartialState()
    record = {"rank": state.process_index, "world": state.num_processes}
    for name, cb in (("per_query", per_query), ("group", group)):
        (_, _, res) = cb.results[-1]
        record[name] = {"row_idx": res.row_idx.tolist(), "scores": res.scores.tolist(),
                        "written": [str(p) for p in cb.written]}  # fmt: skip
    Path(out, f"rank{state.process_index}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1])
