"""FastTrack index: push through the loopback gateway, load back through olah, trace identically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, scenario_env

SCENARIO = Path(__file__).resolve().with_name("fasttrack_index_scenario.py")


def run(mode: str, env: dict[str, str], **kwargs) -> dict:
    proc = subprocess.run(
        [sys.executable, str(SCENARIO), mode, json.dumps(kwargs)],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(REPO_ROOT),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT:")][-1]
    return json.loads(line[len("RESULT:") :])


def test_index_push_then_load_from_hub(local_hub):
    repo = "local/fasttrack-index"
    pushed = run(
        "push", scenario_env(local_hub.env(write=True, hf_home=local_hub.root / "hf_home_ft_write")), repo=repo
    )
    loaded = run("load", scenario_env(local_hub.env(hf_home=local_hub.root / "hf_home_ft_read")), repo=repo)
    assert loaded["digest"] == pushed["digest"]  # labels, paths, keywords and centroids bit-identical
    assert loaded["n_clusters"] == pushed["n_clusters"] > 1
    assert loaded["candidates"] == pushed["candidates"] and any(loaded["candidates"].values())
    assert len(loaded["revision"]) == 40  # every file read at one pinned commit
    assert loaded["config"]["tau"] == 20 and loaded["config"]["max_corpus_fraction"] == 1.0
    # a config without side files: a library error (olah answers a missing file like a missing repo)
    assert loaded["missing"] in ("EmptyDatasetError", "ConfigError")
