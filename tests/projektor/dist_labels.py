"""Run under `accelerate launch` (2 CPU processes) or in one process: Projektor performance labels.

`python dist_labels.py <out> kill`: rank 1's learner dies on its second run (the whole job is torn down).
`python dist_labels.py <out> full`: a settings mismatch error, then the (resumed) label run; writes
`<out>/rank<k>.json` with the rows and this process's learner calls.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hf_datavalue.core.distributed import process_context  # noqa: E402
from hf_datavalue.core.errors import ConfigError  # noqa: E402
from hf_datavalue.projektor import simplex_grid  # noqa: E402
from hf_datavalue.projektor.labels import PerformanceLabels, logistic_regression_learner  # noqa: E402
from tests.projektor.helpers import gaussian_sources  # noqa: E402

GRID = simplex_grid(3, 2)  # 6 mixtures x 2 sizes = 12 runs


def main(out: Path, mode: str) -> None:
    ctx = process_context()
    xs, ys, xv, yv = gaussian_sources(n=50, n_valid=40, d=3)
    base = logistic_regression_learner(xs, ys, xv, yv, max_iter=50)
    calls = {"n": 0}

    def learner(idx, seed):
        calls["n"] += 1
        if mode == "kill" and ctx.rank == 1 and calls["n"] == 2:
            raise RuntimeError("simulated interruption")
        return base(idx, seed)

    result: dict = {"world": ctx.world, "rank": ctx.rank}
    if mode == "full":
        try:  # another seed on one rank: a clear error on every rank, nothing measured
            PerformanceLabels([50, 50, 50], learner, out / "mismatch", seed=ctx.rank)
        except ConfigError as err:
            result["mismatch"] = str(err)
    labels = PerformanceLabels([len(x) for x in xs], learner, out / "labels")
    result["rows"] = labels.run(GRID, sizes=[40, 60])
    result["learned"] = labels.n_learned
    (out / f"rank{ctx.rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
