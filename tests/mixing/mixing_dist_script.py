"""Run under `accelerate launch --cpu --num_processes 2`: every rank reads its part of one interleaved stream.

Writes `<out>/rank<k>.json` with the ids each rank saw, for the iterable path (split_dataset_by_node after
interleaving) and the map-style path (accelerate's sharded DataLoader, no shuffling).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from accelerate import Accelerator
from datasets import Dataset
from datasets.distributed import split_dataset_by_node
from torch.utils.data import DataLoader

from hf_datavalue.mixing import interleave_datasets

SIZES = {"a": 8000, "b": 5000, "c": 3000}
WEIGHTS = {"a": 0.5, "b": 0.3, "c": 0.2}


def main(out: Path) -> None:
    acc = Accelerator(cpu=True)
    domains = {k: Dataset.from_dict({"id": [f"{k}-{i}" for i in range(n)]}) for k, n in SIZES.items()}
    iterable = {k: v.to_iterable_dataset(num_shards=4) for k, v in domains.items()}
    stream = interleave_datasets(iterable, weights=WEIGHTS, num_examples=10_000, seed=0)
    mine = split_dataset_by_node(stream, rank=acc.process_index, world_size=acc.num_processes)
    loader = DataLoader(mine, batch_size=50, num_workers=1, collate_fn=lambda rows: [r["id"] for r in rows])
    iter_ids = [i for batch in loader for i in batch]

    mapped = interleave_datasets(domains, weights=WEIGHTS, num_examples=10_000, seed=0)
    map_loader = acc.prepare(
        DataLoader(mapped, batch_size=50, shuffle=False, collate_fn=lambda rows: [r["id"] for r in rows])
    )
    map_ids = [i for batch in map_loader for i in batch]

    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{acc.process_index}.json").write_text(
        json.dumps({"world": acc.num_processes, "iterable": iter_ids, "map": map_ids})
    )
    acc.wait_for_everyone()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
