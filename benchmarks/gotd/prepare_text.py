"""Write the JSON Lines text files the DSIR baseline reads (same rows as `embed_corpus.py`).

    PYTHONPATH=src python benchmarks/gotd/prepare_text.py

* `target.jsonl`: the 5,000 AG News train texts (labels hidden) used as target;
* `pool_quality.jsonl`: the AG News test items (190 Business) + the 500-character multidomain chunks, tagged;
* `pool_speed.jsonl`: 100,000 real, distinct texts: the quality pool + the SST-2 train sentences +
  200-character multidomain chunks (the rows and order of `speed.py`'s embedding pool).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_corpus import parts  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "results" / "gotd_emb"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    n_speed = 100_000
    named = {name: (texts, tags) for name, texts, tags, _ in parts(extra=n_speed, n500=10_000)}

    def write(path: Path, rows: list[tuple[str, str]]) -> None:
        with path.open("w", encoding="utf-8") as fh:
            for i, (text, tag) in enumerate(rows):
                fh.write(json.dumps({"row_idx": i, "text": text, "tag": tag}) + "\n")

    write(OUT / "target.jsonl", list(zip(*named["target"])))
    quality = list(zip(*named["news"])) + list(zip(*named["chunk500"]))
    write(OUT / "pool_quality.jsonl", quality)
    extra = list(zip(*named["sst2"])) + list(zip(*named["chunk200"]))
    extra = extra[: n_speed - len(quality)]
    write(OUT / "pool_speed.jsonl", quality + extra)
    print(len(quality), len(quality) + len(extra))


if __name__ == "__main__":
    main()
