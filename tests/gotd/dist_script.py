"""Run under `accelerate launch` (2 CPU processes) or in one process: GOT-D and LAVA on the cat/dog toy.

`python dist_script.py <out> kill`: rank 1's embedder dies after its first shard (the whole job is torn down).
`python dist_script.py <out> full`: mismatch errors, the (resumed) GOT-D run, one shard for two processes,
LAVA values; writes `<out>/rank<k>.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from datasets import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hf_datavalue.core.distributed import process_context  # noqa: E402
from hf_datavalue.core.errors import ConfigError  # noqa: E402
from hf_datavalue.gotd import GotdConfig, GotdSelector  # noqa: E402
from hf_datavalue.lava import LavaConfig, LavaValuer  # noqa: E402
from tests.gotd.helpers import TableEmbedder, cat_dog, text_datasets  # noqa: E402

FAST = {"eps": 0.1, "eps_mode": "absolute", "tol": 1e-4, "max_iter": 20_000, "progress": False}
GOTD = FAST | {"shard_size": 32, "embed_batch_size": 32}


def data():
    pool_x, target_x = cat_dog(285, 15, 30, 30, 4, seed=0)
    return text_datasets(pool_x, target_x)


def gotd(out: Path, fail_after: int | None = None) -> dict:
    pool, target, table = data()
    emb = TableEmbedder(table, fail_after=fail_after)
    selector = GotdSelector(GotdConfig(**GOTD), embedder=emb).fit(pool, target, k=15, output_dir=out / "run")
    return {
        "selected": selector.selected_ids().tolist(),
        "scores": np.asarray(selector.scores["gotd_score"]).tolist(),
        "row_idx": np.asarray(selector.scores["row_idx"]).tolist(),
        "embedded_rows": emb.rows,
        "n_processes": selector.provenance.extra["n_processes"],
    }


def one_shard(out: Path) -> list[int]:
    pool, target, table = data()
    cfg = GotdConfig(**(FAST | {"shard_size": 10_000}))
    return GotdSelector(cfg, embedder=TableEmbedder(table)).fit(pool, target, 15, out / "one").selected_ids().tolist()


def lava() -> list[float]:
    pool_x, target_x = cat_dog(285, 15, 30, 30, 4, seed=0)
    table = {f"p{i}": v for i, v in enumerate(pool_x)} | {f"t{i}": v for i, v in enumerate(target_x)}
    labels = (np.arange(300) >= 285).astype(int)
    labels[:20] = 1  # flipped
    train = Dataset.from_dict({"text": [f"p{i}" for i in range(300)], "label": labels.tolist()})
    valid = Dataset.from_dict({"text": [f"t{i}" for i in range(60)], "label": [0] * 30 + [1] * 30})
    cfg = LavaConfig(text_column="text", label_column="label", eps=0.1, tol=1e-6, dtype="float64")
    return LavaValuer(cfg, embedder=TableEmbedder(table), progress=False).compute(train, valid).values.tolist()


def mismatches(out: Path, rank: int) -> list[str]:
    pool, target, table = data()
    messages = []
    try:  # another config on rank 1
        cfg = GotdConfig(**(GOTD | {"eps": 0.1 if rank == 0 else 0.2}))
        GotdSelector(cfg, embedder=TableEmbedder(table)).fit(pool, target, k=15, output_dir=out / "bad")
    except ConfigError as err:
        messages.append(str(err))
    try:  # other pool rows on rank 1
        other = pool if rank == 0 else pool.map(lambda r: {"text": "p0"})
        GotdSelector(GotdConfig(**GOTD), embedder=TableEmbedder(table)).fit(other, target, 15, out / "bad2")
    except ConfigError as err:
        messages.append(str(err))
    lava_cfg = LavaConfig(text_column="text", label_column="label", eps=0.1, tol=1e-6, dtype="float64")
    train = Dataset.from_dict({"text": [f"p{i}" for i in range(40)], "label": [i % 2 for i in range(40)]})
    valid = Dataset.from_dict({"text": [f"t{i}" for i in range(20)], "label": [i % 2 for i in range(20)]})
    try:  # LAVA: other training texts on rank 1
        other = train if rank == 0 else train.map(lambda r: {"text": "p0"})
        LavaValuer(lava_cfg, embedder=TableEmbedder(table), progress=False).compute(other, valid)
    except ConfigError as err:
        messages.append(str(err))
    return messages


def main(out: Path, mode: str) -> None:
    ctx = process_context()
    if mode == "kill":
        gotd(out, fail_after=1 if ctx.rank == 1 else None)
        return
    record = {"world": ctx.world, "mismatch": mismatches(out, ctx.rank) if ctx.distributed else []}
    record["gotd"] = gotd(out)
    record["one_shard"] = one_shard(out)
    record["lava"] = lava()
    (out / f"rank{ctx.rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
