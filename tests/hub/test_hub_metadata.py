"""Hub card/metadata/attach logic without HTTP: pure functions on in-memory tables and cards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.core.errors import (
    ConfigError,
    DataValueError,
    NonFiniteError,
    RowKeyMismatchError,
    ShapeMismatchError,
    ValueTableError,
)
from hf_datavalue.core.provenance import ValueProvenance, row_key_fingerprint
from hf_datavalue.hub_cards import (
    HubValues,
    attach_values,
    build_metadata,
    render_section,
    update_card,
    validate_card,
    validate_metadata,
    validate_table,
)
from hf_datavalue.hub_cards.card import card_metadata, histogram_png
from hf_datavalue.hub_cards.metadata import infer_source_revision, table_sha256
from hf_datavalue.hub_cards.push import _with_row_hashes

SHA = "a" * 40


def make(n: int = 20, seed: int = 0, method: str = "lava", **prov_kwargs):
    rng = np.random.default_rng(seed)
    values = Dataset.from_dict({"row_idx": np.arange(n, dtype=np.int64), f"{method}_value": rng.standard_normal(n)})
    prov = ValueProvenance(
        method=method,
        score_column=f"{method}_value",
        score_semantics="higher = more harmful",
        n_rows=n,
        row_fingerprint=row_key_fingerprint(np.arange(n)),
        params={"eps": 0.1},
        **prov_kwargs,
    )
    return values, prov


def source_rows(n: int = 20) -> Dataset:
    return Dataset.from_dict({"text": [f"row {i}" for i in range(n)], "label": [i % 2 for i in range(n)]})


def test_block_round_trips_and_validates():
    values, prov = make(source_revision=SHA)
    block = build_metadata(values, prov, "lava")
    assert validate_metadata(json.loads(json.dumps(block)), config="lava") == block
    assert ValueProvenance.from_dict(block) == prov
    assert block["columns"] == {"row_idx": "int64", "lava_value": "float64"}
    assert block["unique_row_key"] is True


@pytest.mark.parametrize("config", ["default", "", "a/b", "x" * 80])
def test_bad_config_names_are_refused(config):
    values, prov = make()
    with pytest.raises(ConfigError):
        build_metadata(values, prov, config)


def test_branch_name_as_source_revision_is_refused():
    values, prov = make(source_revision="main")
    with pytest.raises(ConfigError, match="commit sha"):
        build_metadata(values, prov, "lava")


def test_table_must_match_its_provenance():
    values, prov = make()
    with pytest.raises(ShapeMismatchError):
        build_metadata(values.select(range(10)), prov, "lava")
    prov.row_fingerprint = row_key_fingerprint(np.arange(1, 21))
    with pytest.raises(RowKeyMismatchError):
        build_metadata(values, prov, "lava")


@pytest.mark.parametrize(
    "field, value",
    [("n_rows", "20"), ("columns", None), ("score_column", 3), ("unique_row_key", 1), ("source_revision", "dev")],
)
def test_malformed_blocks_are_refused(field, value):
    values, prov = make()
    block = build_metadata(values, prov, "lava")
    block[field] = value
    with pytest.raises(ValueTableError):
        validate_metadata(block)


def test_validate_table_catches_nan_and_edits_and_duplicates():
    values, prov = make()
    block = build_metadata(values, prov, "lava")
    validate_table(values.shuffle(seed=3), block)  # order does not matter
    column = np.asarray(values["lava_value"]).copy()
    column[2] = np.nan
    with pytest.raises(NonFiniteError):
        validate_table(values.remove_columns("lava_value").add_column("lava_value", column), block)
    column[2] = 0.0
    with pytest.raises(ValueTableError, match="table_sha256"):
        validate_table(values.remove_columns("lava_value").add_column("lava_value", column), block)
    keys = np.arange(20)
    keys[1] = 0
    with pytest.raises(RowKeyMismatchError):
        validate_table(values.remove_columns("row_idx").add_column("row_idx", keys), block)


def test_table_hash_is_order_free_and_bit_sensitive():
    values, _ = make()
    assert table_sha256(values) == table_sha256(values.shuffle(seed=1))
    bumped = np.asarray(values["lava_value"]).copy()
    bumped[0] = np.nextafter(bumped[0], np.inf)
    assert table_sha256(values) != table_sha256(values.remove_columns("lava_value").add_column("lava_value", bumped))


def test_card_keeps_other_configs_and_datasets_entries():
    values, prov = make(source_repo="org/src", source_revision=SHA)
    gotd, gotd_prov = make(method="gotd")
    existing = (
        "---\nconfigs:\n- config_name: default\n  data_files: data/*\nlicense: mit\n---\n\n# Mine\n\nHand-written.\n"
    )
    card = update_card(existing, build_metadata(values, prov, "lava"), "org/values")
    card = update_card(str(card), build_metadata(gotd, gotd_prov, "gotd"), "org/values")
    card = update_card(str(card), build_metadata(values, prov, "lava"), "org/values")  # re-push replaces in place
    text = str(card)
    assert text.count("<!-- hf_datavalue:lava:start -->") == 1 and "Hand-written." in text
    assert sorted(card_metadata(card)) == ["gotd", "lava"]
    assert card.data["license"] == "mit" and card.data["configs"][0]["config_name"] == "default"
    assert card.data["source_datasets"] == ["org/src"] and {"data-valuation", "lava", "gotd"} <= set(card.data["tags"])
    assert sorted(validate_card(card)) == ["gotd", "lava"]


def test_validate_card_flags_provenance_inside_configs():
    values, prov = make()
    card = update_card(None, build_metadata(values, prov, "lava"), "org/values")
    card.data["configs"] = [{"config_name": "lava", "data_files": "lava/*", "method": "lava"}]
    with pytest.raises(ValueTableError, match="provenance"):
        validate_card(card)


def test_section_renders_semantics_and_loading_snippet():
    values, prov = make(source_repo="org/src", source_revision=SHA)
    section = render_section(build_metadata(values, prov, "lava"), "org/values")
    assert "higher = more harmful" in section and 'load_dataset("org/values", "lava"' in section
    assert "$" not in section.replace("$config", "")  # every placeholder filled


def test_histogram_is_a_png():
    assert histogram_png(np.random.default_rng(0).standard_normal(50), "t")[:8] == b"\x89PNG\r\n\x1a\n"


def test_attach_joins_by_row_idx_after_shuffle():
    values, prov = make()
    data = source_rows().add_column("row_idx", np.arange(20)).shuffle(seed=4)
    out = attach_values(data, values.shuffle(seed=5), prov)
    expected = dict(zip(values["row_idx"], values["lava_value"]))
    assert [expected[k] for k in out["row_idx"]] == out["lava_value"]


def test_attach_refuses_missing_duplicate_and_foreign_keys():
    values, prov = make()
    with pytest.raises(RowKeyMismatchError):
        attach_values(source_rows(19), values, prov)
    keys = np.arange(20)
    keys[5] = 4
    with pytest.raises(RowKeyMismatchError, match="repeats"):
        attach_values(source_rows(), values.remove_columns("row_idx").add_column("row_idx", keys), prov)
    with pytest.raises(RowKeyMismatchError, match="row_fingerprint"):
        attach_values(source_rows().add_column("row_idx", np.arange(100, 120)), values, prov)
    partial = attach_values(source_rows(25), values, prov, allow_row_mismatch=True)
    assert partial["lava_value"][20:] == [None] * 5


def test_attach_checks_row_contents_and_revision(tmp_path: Path):
    values, prov = make()
    prov.source_revision = SHA
    src = source_rows()
    hashed, columns = _with_row_hashes(values, prov, src)
    block = build_metadata(hashed, prov, "lava", row_hash_columns=columns)
    loaded = HubValues(values=hashed, provenance=prov, metadata=block)
    assert attach_values(src, loaded, source_revision=SHA)["lava_value"] == values["lava_value"]
    with pytest.raises(RowKeyMismatchError, match="differ in content"):
        attach_values(src.shuffle(seed=0), loaded, source_revision=SHA)  # no row_idx column: positions are wrong
    with pytest.raises(RowKeyMismatchError, match="revision"):
        attach_values(src, loaded, source_revision="b" * 40)
    assert len(attach_values(src, loaded, source_revision="b" * 40, allow_revision_mismatch=True)) == 20
    with pytest.raises(DataValueError, match="already has columns"):
        attach_values(src.add_column("lava_value", [0.0] * 20), loaded)


def test_infer_source_revision_reads_the_cache_folder():
    fake = type("D", (), {"cache_files": [{"filename": f"/x/datasets/o___n/default/0.0.0/{SHA}/n-train.arrow"}]})()
    assert infer_source_revision(fake) == SHA
    assert infer_source_revision(source_rows()) is None


def test_no_pickle_in_hub_code():
    package = Path(__file__).resolve().parents[2] / "src" / "hf_datavalue" / "hub_cards"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "torch.load" not in text and "allow_pickle=True" not in text, path


def test_long_and_small_tables_of_other_methods():
    """Per-pair (Forward-INF, repeated row_idx + string query_id + float32) and mixture-weight tables validate too."""
    from hf_datavalue.hub_cards.metadata import key_fingerprint

    rows = np.repeat(np.arange(5), 2).astype(np.int64)
    pairs = Dataset.from_dict(
        {"row_idx": rows, "query_id": ["q0", "q1"] * 5, "score": np.linspace(-1, 1, 10).astype(np.float32)}
    )
    prov = ValueProvenance(
        method="forward_inf", score_column="score", score_semantics="positive = proponent", n_rows=10,
        row_fingerprint=row_key_fingerprint(rows),
    )  # fmt: skip
    block = build_metadata(pairs, prov, "forward_inf")
    assert block["unique_row_key"] is False and block["columns"]["score"] == "float32"
    validate_table(pairs.shuffle(seed=0), block)
    with pytest.raises(RowKeyMismatchError, match="repeats"):
        attach_values(source_rows(5), pairs, block)
    weights = Dataset.from_dict({"domain": ["web", "code", "books"], "weight": [0.5, 0.3, 0.2]})
    prov = ValueProvenance(
        method="ddo", score_column="weight", score_semantics="mixture weight", n_rows=3, row_key="domain",
        row_fingerprint=key_fingerprint(weights["domain"]),
    )  # fmt: skip
    block = build_metadata(weights, prov, "ddo_weights")
    validate_table(weights, block)
    assert "mixture weight" in render_section(block, "org/values")
