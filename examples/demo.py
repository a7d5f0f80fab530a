# /// script
# requires-python = ">=3.10"
# dependencies = ["hf_datavalue", "scikit-learn"]
# ///
"""The `make demo` job: find flipped labels with LAVA, then share the values through a (local) Hub.

On scikit-learn's bundled digits (no download), 20% of the training labels are flipped. LAVA values every
training row against a clean validation split; the flipped rows should gather at the harmful (high) end. The
values are written with their provenance and a histogram, published as the `lava` config of a dataset repo on a
Hub-compatible server started on loopback (olah + the test write gateway), and loaded back and verified.

Commands:

```bash
make demo                                       # sets up .venv and runs this script
python examples/demo.py --output-dir outputs/demo --no-hub
```
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from datasets import Dataset
from sklearn.datasets import load_digits

from hf_datavalue.core.metrics import auroc, recall_at_k
from hf_datavalue.lava import LavaConfig, LavaValuer, knn_label_disagreement, plot_value_histogram

logger = logging.getLogger("demo")


def noisy_digits(noise: float, seed: int) -> tuple[Dataset, Dataset, np.ndarray]:
    """Digits split 1,297 train / 500 validation, with `noise` of the train labels flipped to another class."""
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))
    valid_idx, train_idx = order[:500], order[500:]
    features = (digits.data / 16.0).astype(np.float32)
    labels = digits.target[train_idx].copy()
    flipped = rng.random(len(labels)) < noise
    labels[flipped] = (labels[flipped] + rng.integers(1, 10, int(flipped.sum()))) % 10
    train = Dataset.from_dict({"pixels": features[train_idx], "label": labels, "true_label": digits.target[train_idx]})
    valid = Dataset.from_dict({"pixels": features[valid_idx], "label": digits.target[valid_idx]})
    return train, valid, flipped


def publish_and_reload(values_dir: Path, output_dir: Path) -> None:
    """Push the values to a local Hub as config `lava`, pull them back in a fresh process and compare."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from local_hub import start_local_hub

    hub_root = Path(tempfile.mkdtemp(prefix="hf_datavalue-demo-hub-"))
    _, stop = start_local_hub(hub_root)
    hub = stop.hub
    cli = [sys.executable, "-m", "hf_datavalue.cli"]
    pulled = output_dir / "pulled"
    try:
        subprocess.run(
            [*cli, "push", str(values_dir), "--repo", "demo/digits-values", "--config", "lava", "--tag", "lava-v1"],
            env=hub.env(write=True),
            check=True,
        )
        subprocess.run(
            [*cli, "pull", "demo/digits-values", "--config", "lava", "--revision", "lava-v1", "--out", str(pulled)],
            env=hub.env(),
            check=True,
        )
    finally:
        stop()
    import pyarrow.parquet as pq

    local = pq.read_table(values_dir / "values.parquet").to_pandas().sort_values("row_idx")
    remote = pq.read_table(pulled / "values.parquet").to_pandas().sort_values("row_idx")
    identical = np.array_equal(local["lava_value"].to_numpy(), remote["lava_value"].to_numpy())
    print(
        f"Hub round trip: pushed config 'lava' to demo/digits-values@lava-v1, loaded {len(remote)} rows back, "
        f"bit-identical: {identical}"
    )
    if not identical:
        raise SystemExit("the values loaded back from the Hub differ from the pushed ones")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="outputs/demo")
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-hub", action="store_true", help="skip the local Hub round trip")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.output_dir)

    train, valid, flipped = noisy_digits(args.noise, args.seed)
    print(
        f"digits: {len(train)} training rows ({int(flipped.sum())} labels flipped), {len(valid)} clean validation rows"
    )
    result = LavaValuer(LavaConfig(embedding_column="pixels")).compute(train, valid)

    k = int(flipped.sum())
    found = int(flipped[result.harmful_mask(k)].sum())
    knn = knn_label_disagreement(
        np.asarray(train["pixels"]),
        np.asarray(train["label"]),
        np.asarray(valid["pixels"]),
        np.asarray(valid["label"]),
    )
    print(
        f"LAVA: the {k} most harmful rows hold {found} of the {k} flipped labels "
        f"(recall {recall_at_k(result.values, flipped, k):.2f}); AUROC {auroc(result.values, flipped):.3f} "
        f"(kNN label-disagreement baseline {auroc(knn, flipped):.3f}); "
        f"{result.ot['n_iter']} Sinkhorn iterations in {sum(result.timings.values()):.1f}s"
    )

    values_dir = result.save(out / "lava", overwrite=True)
    plot = plot_value_histogram(
        result.values, out / "lava_values.png", flagged=flipped, title="LAVA values on digits (orange: flipped labels)"
    )
    (out / "summary.json").write_text(json.dumps({"k": k, "found": found, "auroc": auroc(result.values, flipped)}))
    print(f"wrote {values_dir / 'values.parquet'}, {values_dir / 'meta.json'} and {plot}")
    if not args.no_hub:
        publish_and_reload(values_dir, out)


if __name__ == "__main__":
    main()
