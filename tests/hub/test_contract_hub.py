"""The method contract's Hub leg: every registered method's result pushes to the local Hub and loads back intact."""

from __future__ import annotations

from conftest import run_scenario, scenario_env

from tests.test_method_contract import CASES

REPO = "local/contract-values"


def test_every_method_round_trips_through_the_local_hub(local_hub, tmp_path):
    saved = {}
    for method, case in CASES.items():
        saved[method] = str(case.run(0, tmp_path / f"run-{method}").save(tmp_path / method))
    write_env = scenario_env(local_hub.env(write=True, hf_home=local_hub.root / "hf_home_contract_write"))
    pushed, _ = run_scenario("contract_push", write_env, repo=REPO, saved=saved)
    read_env = scenario_env(local_hub.env(hf_home=local_hub.root / "hf_home_contract_read"))
    loaded, _ = run_scenario("contract_load", read_env, repo=REPO, configs={m: r["config"] for m, r in pushed.items()})
    assert set(loaded) == set(CASES)
    for method in CASES:
        assert loaded[method]["method"] == method
        assert loaded[method]["sha"] == pushed[method]["sha"], method
