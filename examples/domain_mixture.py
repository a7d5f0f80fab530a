# /// script
# requires-python = ">=3.10"
# dependencies = ["hf_datavalue", "datasets>=5.2", "transformers>=5.0"]
# ///
"""Domain mixtures end to end: AutoScale from two DDO optima, then a quota-exact mixed training stream.

Commands:

```bash
PYTHONPATH=src python examples/domain_mixture.py --data-dir ../shared/data/multidomain_text --num-examples 5000
accelerate launch --multi_gpu --num_processes 2 examples/domain_mixture.py  # with ACCELERATE_USE_CPU=1 on CPU
```

Each rank reads a disjoint part of the stream (interleave first, then `split_dataset_by_node`).
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset
from datasets.distributed import split_dataset_by_node
from transformers import HfArgumentParser

from hf_datavalue.mixing import AutoScale, MixtureWeights, interleave_datasets


@dataclass
class Args:
    data_dir: str = field(
        default="../shared/data/multidomain_text", metadata={"help": "one <domain>.jsonl.gz per domain"}
    )
    num_examples: int = field(default=5000, metadata={"help": "examples in the mixed stream"})
    target_budget: float = field(default=1.6e6, metadata={"help": "AutoScale target budget (tokens)"})


def main() -> None:
    (args,) = HfArgumentParser(Args).parse_args_into_dataclasses()
    domains = ["wikipedia", "arxiv", "github", "books"]
    docs = {}
    for d in domains:
        with gzip.open(Path(args.data_dir) / f"{d}.jsonl.gz", "rt", encoding="utf-8") as fh:
            docs[d] = Dataset.from_list([{"text": json.loads(line)["text"]} for line in fh])
    # Two DDO optima (here written down; DDORunner or `hf-datavalue mix ddo` produces them) -> AutoScale.
    small = MixtureWeights({"wikipedia": 0.30, "arxiv": 0.30, "github": 0.20, "books": 0.20}, budget=1e5)
    large = MixtureWeights({"wikipedia": 0.28, "arxiv": 0.24, "github": 0.18, "books": 0.30}, budget=4e5)
    target = AutoScale([small, large]).predict(args.target_budget)
    print("AutoScale weights:", {k: round(v, 4) for k, v in target.weights.items()})
    # Token weights -> per-example quotas with the measured mean length (characters stand in for tokens here).
    chars = {d: sum(len(t) for t in ds["text"]) / len(ds) for d, ds in docs.items()}
    stream = interleave_datasets(
        {d: ds.to_iterable_dataset(num_shards=4) for d, ds in docs.items()},
        weights=target,
        tokens_per_example=chars,
        num_examples=args.num_examples,
        seed=0,
        domain_column="domain",
    )
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    mine = split_dataset_by_node(stream, rank=rank, world_size=world)
    counts = Counter(row["domain"] for row in mine)
    print(f"rank {rank}/{world}: {sum(counts.values())} examples, per domain {dict(counts)}")


if __name__ == "__main__":
    main()
