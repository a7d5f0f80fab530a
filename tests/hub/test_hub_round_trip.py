"""Push -> load round trips through huggingface_hub, the loopback write gateway and olah (spec §8, issue 3 checks)."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import TOKEN, scenario_env

CORRUPTIONS = ("truncated_rows", "nan", "flipped", "dtype", "broken_parquet", "bad_meta", "duplicate_keys")


def git(local_hub, repo: str, *args: str) -> str:
    path = local_hub.mirrors / "datasets" / repo
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True).stdout


def test_round_trip_is_bit_exact(published, loaded):
    assert loaded["plain"]["digest"] == published["expected"]  # plain datasets.load_dataset, no hf_datavalue
    assert loaded["load_values"]["digest"] == published["expected"]
    assert loaded["plain"]["dtypes"]["lava_value"] == "float64"
    assert loaded["plain"]["dtypes"]["row_idx"] == "int64"
    assert loaded["load_values"]["method"] == "lava"
    assert loaded["load_values"]["semantics"] == "higher = more harmful"


def test_join_follows_row_idx_after_shuffle(published, loaded):
    assert loaded["join"]["rows"] == len(published["expected_by_idx"])
    assert loaded["join"]["first_idx"] != sorted(loaded["join"]["first_idx"])  # really shuffled
    assert loaded["join"]["by_idx"] == published["expected_by_idx"]
    assert loaded["one_call_equal"]


def test_load_values_pins_the_commit(published, loaded):
    assert loaded["load_values"]["revision"] == loaded["load_values"]["head"] == published["second"]
    assert loaded["history"]["tag"] == published["first"]
    assert loaded["history"]["tag_digest"] == loaded["history"]["first_digest"] == published["expected"]


def test_second_push_keeps_history_readable(local_hub, published, loaded):
    assert published["first"] != published["second"]
    log = git(local_hub, "local/sst2-values", "log", "--format=%H", "main").split()
    assert published["first"] in log and published["second"] in log and published["data_commit"] in log
    for sha in log:  # every commit holds at most one shard of the config: nothing duplicated or half-written
        shards = [
            p
            for p in git(local_hub, "local/sst2-values", "ls-tree", "-r", "--name-only", sha).split()
            if p.startswith("lava/train-")
        ]
        assert len(shards) <= 1


def test_card_has_block_section_and_histogram(loaded):
    card = loaded["card"]
    assert "hf_datavalue" in card["keys"] and card["blocks"] == ["lava"]
    assert card["meta_equal"]  # lava/meta.json mirrors the card block
    assert card["has_section"] and card["histogram_in_text"]
    assert card["histogram_png"] == "89504e470d0a1a0a"
    assert {"data-valuation", "lava"} <= set(card["tags"])
    assert card["source_datasets"] == ["local/sst2"]
    for entry in card["configs"]:  # provenance never inside a `configs` entry
        assert set(entry) <= {"config_name", "data_files", "default"}


def test_new_configs_listed_next_to_default(published, loaded):
    assert sorted(loaded["configs_source"]) == ["default", "gotd", "lava"]
    assert loaded["configs_values"] == ["lava"]
    assert loaded["source_card_blocks"] == ["gotd", "lava"]
    assert loaded["gotd_digest"] == published["gotd_expected"]
    # a real GotdSelector score table comes back through load_values with its semantics and selection
    gotd = loaded["gotd_values"]
    assert gotd["digest"] == published["gotd_expected"]
    assert gotd["semantics"] == "lower = select first" and gotd["n_selected"] == gotd["k"] == 100


def test_concurrent_pushes_of_two_configs_keep_both(published, loaded):
    assert all(r["commit"] for r in published["concurrent"])
    assert loaded["concurrent_blocks"] == ["gotd", "lava"]
    assert sorted(loaded["concurrent_configs"]) == ["gotd", "lava"]


def test_stale_parent_is_retried(published):
    race = published["race"]
    assert race["injected"] == 1 and race["retries"] == 1
    assert race["card_configs"] == ["lava"]
    assert {"notes.txt", "lava/meta.json", "lava/histogram.png", "README.md"} <= set(race["files"])


@pytest.mark.parametrize(
    "case, error",
    [
        ("other_revision", "RowKeyMismatchError"),
        ("other_rows_count", "RowKeyMismatchError"),
        ("other_rows_content", "RowKeyMismatchError"),
        ("shuffled_without_key", "RowKeyMismatchError"),
        ("other_keys", "RowKeyMismatchError"),
    ],
)
def test_mismatched_dataset_is_refused(loaded, case, error):
    assert loaded[case] is not None, f"{case} was attached"
    assert loaded[case]["type"] == error, loaded[case]


def test_explicit_overrides_attach_anyway(loaded):
    assert loaded["other_revision_forced_ok"]
    assert loaded["other_rows_count_forced"] == 350


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupted_remote_values_are_refused(loaded, kind):
    err = loaded["corrupt"][kind]
    assert err is not None, f"{kind} values were accepted"
    assert err["is_datavalue"], err
    assert loaded["corrupt_main_ok"]  # the untouched main branch of the same repo still loads


def test_config_without_metadata_is_refused(loaded):
    # the Hub answers 404 EntryNotFound (-> ValueTableError); olah's offline mirror answers 401 RepositoryNotFound
    # (-> ConfigError naming the repo and the config)
    assert loaded["no_meta"]["type"] in ("ValueTableError", "ConfigError"), loaded["no_meta"]
    assert "nosuchconfig" in loaded["no_meta"]["message"] and loaded["no_meta"]["is_datavalue"]


@pytest.mark.parametrize(
    "case,names", [("no_repo", "no-such-values"), ("no_revision", "no-such-tag"), ("no_config", "nosuchconfig"),
                   ("out_exists", "--overwrite")],
)  # fmt: skip
def test_cli_pull_failures_are_one_error_line(loaded, case, names):
    result = loaded["cli_pull_errors"][case]
    lines = [line for line in result["stderr"].splitlines() if line.startswith("error:")]
    assert result["code"] == 2 and "Traceback" not in result["stderr"], result
    assert len(lines) == 1 and names in lines[0], result


def test_token_is_never_logged(published):
    assert published["_output"], "the publish scenario produced no log output"
    assert TOKEN not in published["_output"]


def test_cli_push_pull_attach(published, loaded):
    assert published["cli_push"] == 0
    assert loaded["cli_pull"] == 0 and loaded["cli_pull_digest"] == published["expected"]
    assert loaded["cli_attach"] == 0 and "lava_value" in loaded["cli_attach_columns"]


def test_offline_reload_with_servers_stopped(tmp_path, shared_data, scenario_runner):
    from local_hub import start_local_hub

    hub = start_local_hub(tmp_path / "hub")
    pids = hub.pids
    try:
        home = tmp_path / "hf_home"
        setup, _ = scenario_runner(
            "offline_setup", scenario_env(hub.env(write=True, hf_home=tmp_path / "w")), repo="local/off-values"
        )
        online, _ = scenario_runner("offline_load", scenario_env(hub.env(hf_home=home)), repo="local/off-values")
    finally:
        hub.stop()
    for pid in pids:  # both servers are gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    offline, output = scenario_runner(
        "offline_load", scenario_env(hub.env(hf_home=home, offline=True)), repo="local/off-values"
    )
    assert online["digest"] == online["plain_digest"] == setup["expected"]
    assert offline == online
