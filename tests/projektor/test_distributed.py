"""Projektor performance labels under a real two-process `accelerate launch` on CPU (issue 15).

accelerate 1.15: `--cpu --num_processes 2` starts one process; `--multi_gpu` with no visible GPU starts two
torchrun processes that join a gloo group (see tests/gotd/test_distributed.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.launch import launch, load_script

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "dist_labels.py"


@pytest.mark.timeout(600)
def test_labels_sharded_over_two_processes_equal_one_and_resume_after_a_kill(tmp_path):
    script = load_script(SCRIPT, "projektor_dist_labels")
    (tmp_path / "one").mkdir()
    script.main(tmp_path / "one", "full")  # the single-process reference, in this process
    one = json.loads((tmp_path / "one" / "rank0.json").read_text())
    assert one["world"] == 1 and one["learned"] == 12 and "mismatch" not in one

    two = tmp_path / "two"
    two.mkdir()
    killed = launch(str(SCRIPT), str(two), "kill")  # rank 1 dies in round 2: round 1 (2 runs) is on disk
    assert killed.returncode != 0 and "simulated interruption" in killed.stderr
    on_disk = (two / "labels" / "labels.jsonl").read_text().splitlines()
    assert len(on_disk) == 2, on_disk  # only rank 0 wrote, one gathered round

    proc = launch(str(SCRIPT), str(two), "full")
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for r in ranks:
        assert r["rows"] == one["rows"]  # the same labels as one process, row for row, on every rank
        assert "disagree on the label-run settings" in r["mismatch"]
    # the resumed run measured only what the kill left, one run per process per round
    assert ranks[0]["learned"] + ranks[1]["learned"] == 12 - 2
    assert abs(ranks[0]["learned"] - ranks[1]["learned"]) <= 1
    lines = (two / "labels" / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 12 and len({json.loads(line)["key"] for line in lines}) == 12
