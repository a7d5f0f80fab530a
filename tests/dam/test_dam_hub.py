"""A DAM marketplace round-trips through the local Hub (loopback write gateway + olah), in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "hub"))

from local_hub import start_local_hub  # noqa: E402

SCENARIO = Path(__file__).resolve().with_name("hub_scenario.py")


def _run(name: str, env: dict[str, str]) -> dict:
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])
    proc = subprocess.run(
        [sys.executable, str(SCENARIO), name], env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
    )
    if proc.returncode != 0:
        pytest.fail(f"scenario {name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT:")][-1]
    return json.loads(line[len("RESULT:") :])


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    hub = start_local_hub(tmp_path_factory.mktemp("dam-hub"))
    try:
        pushed = _run("push", hub.env(write=True, hf_home=hub.root / "hf_home_write"))
        loaded = _run("load", hub.env(hf_home=hub.root / "hf_home_read"))
    finally:
        hub.stop()
    return pushed, loaded


def test_marketplace_round_trips_through_the_hub(round_trip):
    pushed, loaded = round_trip
    assert pushed["commits"]["public"] and pushed["commits"]["hidden"]
    assert loaded["public"] == pushed["public"]  # buyer data, summaries, samples, prices, budget: identical
    assert loaded["public_via_hidden"] == pushed["public"]
    assert loaded["hidden"] == pushed["hidden"]
    assert 0.0 < loaded["score"] <= 1.0


def test_public_repo_holds_summaries_and_previews_only(round_trip):
    pushed, loaded = round_trip
    files = set(loaded["public_files"])
    n = pushed["public"]["n_sellers"]
    assert {f"sellers/seller_{i:02d}.md" for i in range(n)} <= files
    assert not any("hidden" in f or f.startswith("sellers/train") for f in files)
    assert loaded["preview_rows"] == 5 * n and loaded["preview_columns"] == ["seller", "features", "label"]
    card = loaded["seller_card"]
    assert card["price"] == {"type": "linear", "max_p": 100.0} and card["column_number"] == 9
    assert loaded["size_categories"] == ["n<1K"]
