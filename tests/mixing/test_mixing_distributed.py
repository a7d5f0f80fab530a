"""A real two-process `accelerate launch` run on CPU: disjoint data per rank, proportions kept.

In accelerate 1.15, `accelerate launch --cpu --num_processes 2` uses the *simple* launcher, which starts one
process (CPU multi-process needs an MPI hostfile). The torchrun launcher (`--multi_gpu`) with
`ACCELERATE_USE_CPU=1` and `Accelerator(cpu=True)` starts two real CPU processes on the gloo backend; the test
asserts that the world size really is 2.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.launch import launch

HERE = Path(__file__).resolve().parent
WEIGHTS = {"a": 0.5, "b": 0.3, "c": 0.2}


def check(ids: list[str], tol: float = 0.01) -> None:
    counts = Counter(i.split("-")[0] for i in ids)
    for d, w in WEIGHTS.items():
        assert abs(counts[d] / len(ids) - w) <= tol, (d, counts[d] / len(ids))


@pytest.mark.timeout(300)
def test_accelerate_launch_two_cpu_processes(tmp_path):
    # ACCELERATE_USE_CPU=1: the script's Accelerator(cpu=True) joins a gloo group on CPU
    proc = launch(str(HERE / "mixing_dist_script.py"), str(tmp_path), env={"ACCELERATE_USE_CPU": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(r["world"] == 2 for r in ranks)
    for key in ("iterable", "map"):
        union = ranks[0][key] + ranks[1][key]
        assert len(union) == 10_000 and len(set(union)) == 10_000, key  # no example seen twice, none lost
        check(union)
        for r in ranks:
            assert len(r[key]) >= 4_900
            check(r[key])
