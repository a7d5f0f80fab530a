"""Attach only to the rows that were valued; numeric score columns only; no local paths on the Hub."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.core.errors import RowKeyMismatchError, ValueTableError
from hf_datavalue.core.provenance import ValueProvenance, row_key_fingerprint
from hf_datavalue.hub_cards import HubValues, attach_values, build_metadata, render_section, validate_metadata
from hf_datavalue.hub_cards.card import update_card
from hf_datavalue.hub_cards.metadata import public_paths
from hf_datavalue.hub_cards.push import _with_row_hashes

N = 30


def rows(kind: str, n: int = N) -> Dataset:
    words = {"sst2": "a moving film", "agnews": "stocks fell on"}[kind]
    return Dataset.from_dict({"text": [f"{words} {i}" for i in range(n)], "label": [i % 2 for i in range(n)]})


def values_for(source: Dataset, hashes: bool) -> HubValues:
    table = Dataset.from_dict({"row_idx": np.arange(N, dtype=np.int64), "lava_value": np.linspace(-1, 1, N)})
    prov = ValueProvenance(method="lava", score_column="lava_value", score_semantics="higher = more harmful",
                           n_rows=N, row_fingerprint=row_key_fingerprint(np.arange(N)),
                           source_fingerprint=source._fingerprint)  # fmt: skip
    columns: list[str] = []
    if hashes:
        table, columns = _with_row_hashes(table, prov, source)
    block = build_metadata(table, prov, "lava", row_hash_columns=columns or None)
    return HubValues(values=table, provenance=prov, metadata=block)


@pytest.mark.parametrize("hashes", [True, False])
def test_values_of_one_dataset_are_refused_on_another_with_the_same_row_count(hashes):
    sst2, agnews = rows("sst2"), rows("agnews")
    loaded = values_for(sst2, hashes)
    assert attach_values(sst2, loaded)["lava_value"] == loaded.values["lava_value"]
    with pytest.raises(RowKeyMismatchError, match="differ in content" if hashes else "fingerprint"):
        attach_values(agnews, loaded)
    forced = attach_values(agnews, loaded, allow_row_mismatch=True)
    assert len(forced) == N


def test_a_shuffled_dataset_without_row_idx_does_not_get_values_by_position():
    sst2 = rows("sst2")
    # no row hashes, no fingerprint: only the indices mapping shows that positions are not row keys
    table = Dataset.from_dict({"row_idx": np.arange(N, dtype=np.int64), "lava_value": np.linspace(-1, 1, N)})
    prov = ValueProvenance(method="lava", score_column="lava_value", score_semantics="higher = more harmful",
                           n_rows=N, row_fingerprint=row_key_fingerprint(np.arange(N)))  # fmt: skip
    with pytest.raises(RowKeyMismatchError, match="shuffled"):
        attach_values(sst2.shuffle(seed=0), table, prov)
    with pytest.raises(RowKeyMismatchError):
        attach_values(sst2.shuffle(seed=0), values_for(sst2, hashes=True))
    # with its own row_idx column the shuffle is fine
    keyed = sst2.add_column("row_idx", np.arange(N)).shuffle(seed=0)
    out = attach_values(keyed, table, prov)
    assert out["lava_value"] == [float(np.linspace(-1, 1, N)[k]) for k in out["row_idx"]]


def test_row_hash_columns_the_dataset_lacks_are_a_mismatch():
    sst2 = rows("sst2")
    loaded = values_for(sst2, hashes=True)
    with pytest.raises(RowKeyMismatchError, match="lacks the columns"):
        attach_values(sst2.remove_columns("text"), loaded)


def _values(score):
    table = Dataset.from_dict({"row_idx": np.arange(3, dtype=np.int64), "lava_value": score})
    prov = ValueProvenance(method="lava", score_column="lava_value", score_semantics="higher = more harmful",
                           n_rows=3, row_fingerprint=row_key_fingerprint(np.arange(3)))  # fmt: skip
    return table, prov


def test_push_refuses_a_string_score_column_and_pull_verifies_it():
    table, prov = _values(["0.1", "0.2", "x"])
    with pytest.raises(ValueTableError, match="numeric"):
        build_metadata(table, prov, "lava")
    good, prov = _values([0.1, 0.2, 0.3])
    block = build_metadata(good, prov, "lava")
    block["columns"]["lava_value"] = "string"  # a hand-edited or foreign meta.json
    with pytest.raises(ValueTableError, match="numeric"):
        validate_metadata(block, config="lava")


def test_published_metadata_and_card_carry_no_local_paths(tmp_path):
    model = tmp_path / "models" / "minilm"
    model.mkdir(parents=True)
    train = tmp_path / "data" / "train.jsonl"
    table, prov = _values([0.1, 0.2, 0.3])
    prov.embedder = {"repo": str(model), "revision": "files-sha256:abc"}
    prov.params = {"embedder": str(model), "label_column": "label"}
    prov.extra = {"source_path": str(train), "validation_path": "./valid.jsonl", "home": "~/x/y.json"}
    prov.source_repo = "org/sst2"
    block = build_metadata(table, prov, "lava")
    text = json.dumps(block) + str(update_card(None, block, "org/values")) + render_section(block, "org/values")
    assert str(tmp_path) not in text and os.sep + "models" not in text
    assert block["embedder"]["repo"] == "minilm" and block["params"]["embedder"] == "minilm"
    assert block["extra"]["source_path"] == "train.jsonl" and block["extra"]["validation_path"] == "valid.jsonl"
    assert block["extra"]["home"] == "y.json"
    assert block["source_repo"] == "org/sst2"  # Hub ids stay
    assert public_paths({"a": ["C:\\data\\x.csv", "org/name", "plain"]}) == {"a": ["x.csv", "org/name", "plain"]}


def test_cli_push_records_row_hashes_of_the_runs_source_by_default(tmp_path, monkeypatch):
    """`hf-datavalue push` of a `lava` run folder hashes the rows at the run's `source_path` unless told not to."""
    from hf_datavalue import hub_cards
    from hf_datavalue.cli import main
    from hf_datavalue.core.io import write_json_atomic, write_parquet_atomic

    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(3)))
    table, prov = _values([0.1, 0.2, 0.3])
    prov.extra = {"source_path": str(train)}
    run = tmp_path / "run"
    write_parquet_atomic(run / "values.parquet", table.data.table, metadata=prov.to_dict())
    write_json_atomic(run / "meta.json", prov.to_dict())
    seen = []

    def fake_push(values, repo_id, config, provenance, *, source=None, **kwargs):
        seen.append(source)
        return type("R", (), {"repo_id": repo_id, "config": config, "commit_sha": "0" * 40, "commit_url": ""})()

    monkeypatch.setattr(hub_cards, "push_values", fake_push)
    assert main(["push", str(run), "--repo", "org/values"]) == 0
    assert seen[-1] is not None and seen[-1]["text"] == ["t0", "t1", "t2"]
    assert main(["push", str(run), "--repo", "org/values", "--no-row-hashes"]) == 0
    assert seen[-1] is None
