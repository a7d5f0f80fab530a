"""Every sub-command on bad input: exit code 2, one `error:` line that names what to fix, never a traceback."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hf_datavalue.cli import main
from hf_datavalue.core.io import write_json_atomic, write_parquet_atomic
from hf_datavalue.core.provenance import ValueProvenance, row_key_fingerprint


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _bad_utf8_parquet(path: Path) -> None:
    offsets = pa.array([0, 2, 4], pa.int32()).buffers()[1]
    text = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ok\xff\xfe")])
    pq.write_table(pa.table({"text": text, "label": [0, 1]}), path)


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """One folder of good and bad inputs shared by every case."""
    root = tmp_path_factory.mktemp("cli-bad-input")
    rng = np.random.default_rng(0)
    rows = [{"text": f"row {i}", "label": i % 2, "emb": rng.standard_normal(4).tolist()} for i in range(12)]
    _jsonl(root / "train.jsonl", rows)
    _jsonl(root / "valid.jsonl", rows[:6])
    (root / "empty.jsonl").write_text("")
    (root / "blank.jsonl").write_text("\n\n  \n")
    (root / "malformed.jsonl").write_text('{"text": "a", "label": 0}\n{"text": "b", "label": \n')
    (root / "array.json").write_text("[1, 2")
    (root / "bad_utf8.jsonl").write_bytes(b'{"text": "ok", "label": 0}\n{"text": "\xff\xfe", "label": 1}\n')
    (root / "bad_utf8.csv").write_bytes(b"text,label\nok,0\n\xff\xfe,1\n")
    (root / "header_only.csv").write_text("text,label\n")
    (root / "not_parquet.parquet").write_text("not parquet")
    _bad_utf8_parquet(root / "bad_utf8.parquet")
    (root / "notes.txt").write_text("text\n")
    (root / "bad.json").write_text('{"eps": 0.1,,}')
    (root / "list.json").write_text("[1, 2, 3]")
    (root / "unknown_field.json").write_text('{"colour": "blue"}')
    (root / "existing.parquet").write_text("x")
    (root / "model_without_config").mkdir()
    # mixing inputs
    domains = ["a", "b", "c"]
    ones = dict.fromkeys(domains, 1.0)

    def table(base=10.0, down=12.0, up=9.0, names=domains) -> dict:
        runs = [{"name": "base", "perturbed": None, "multipliers": dict(ones), "objective": base}]
        for dom in domains:
            runs.append(
                {"name": f"{dom}-down", "perturbed": dom, "multipliers": {**ones, dom: 0.2}, "objective": down}
            )
            runs.append({"name": f"{dom}-up", "perturbed": dom, "multipliers": {**ones, dom: 3.0}, "objective": up})
        return {"domains": names, "runs": runs, "metric": "perplexity", "budget": 1e6, "unit": "tokens"}

    write_json_atomic(root / "table_ok.json", table())
    write_json_atomic(root / "table_dup.json", table(names=["a", "a", "b"]))
    write_json_atomic(root / "table_negative.json", table(base=-10.0, down=-12.0, up=-9.0))
    write_json_atomic(root / "table_zero_base.json", table(base=0.0))
    write_json_atomic(root / "table_extra.json", {**table(), "colour": 1})
    write_json_atomic(root / "table_run_not_number.json", {**table(), "runs": [{"name": "base", "perturbed": None,
                      "multipliers": {"a": "one", "b": 1, "c": 1}}]})  # fmt: skip
    write_json_atomic(root / "weights.json", {"weights": {"a": 0.5, "b": 0.5}, "unit": "tokens", "budget": 1e6})
    write_json_atomic(root / "weights_no_budget.json", {"weights": {"a": 0.5, "b": 0.5}, "unit": "tokens"})
    write_json_atomic(root / "weights_negative.json", {"weights": {"a": -0.5, "b": 1.5}, "unit": "tokens"})
    write_json_atomic(root / "weights_unknown.json", {"weights": {"a": 1.0}, "colour": 1})
    # hub inputs
    prov = ValueProvenance(method="lava", score_column="lava_value", score_semantics="higher = more harmful",
                           n_rows=3, row_fingerprint=row_key_fingerprint(np.arange(3)))  # fmt: skip
    write_parquet_atomic(root / "values.parquet", {"row_idx": np.arange(3), "lava_value": [0.1, 0.2, 0.3]},
                         metadata=prov.to_dict())  # fmt: skip
    write_parquet_atomic(root / "no_prov" / "values.parquet", {"row_idx": np.arange(3), "lava_value": [0.1, 0.2, 0.3]})
    string_dir = root / "string_values"
    write_parquet_atomic(string_dir / "values.parquet", {"row_idx": np.arange(3), "lava_value": ["0.1", "x", "y"]},
                         metadata=prov.to_dict())  # fmt: skip
    (root / "empty_run").mkdir()
    (root / "two_parquets").mkdir()
    for name in ("a.parquet", "b.parquet"):
        write_parquet_atomic(root / "two_parquets" / name, {"row_idx": [0]})
    write_json_atomic(root / "meta_missing_fields.json", {"method": "lava"})
    (root / "pulled").mkdir()
    (root / "pulled" / "values.parquet").write_text("old")
    return root


LAVA = ["lava", "--valid", "{d}/valid.jsonl", "--feature-column", "emb", "--out", "{d}/out/values.parquet"]
LAVA_TRAIN = [*LAVA, "--train", "{d}/train.jsonl"]
SELECT = ["select", "--target", "{d}/valid.jsonl", "--k", "2", "--out", "{d}/sel", "--embedding-column", "emb"]
ATTR = ["attribute", "--model", "{d}/model_without_config", "--test", "{d}/valid.jsonl", "--output-dir", "{d}/attr"]
ATTR_TRAIN = [*ATTR, "--train", "{d}/train.jsonl"]
PULL = ["pull", "org/values", "--config", "lava", "--out", "{d}/pulled-new"]
ATTACH = ["attach", "org/values", "--config", "lava", "--out", "{d}/attached.parquet"]

CASES: dict[str, tuple[list[str], str]] = {
    # --- usage errors (argparse)
    "no-command": ([], "required"),
    "unknown-command": (["frobnicate"], "invalid choice"),
    "lava-missing-required": (["lava", "--train", "x.jsonl"], "required"),
    "lava-unknown-flag": ([*LAVA_TRAIN, "--colour", "blue"], "unrecognized"),
    "lava-bad-float": ([*LAVA_TRAIN, "--eps", "abc"], "float"),
    "lava-bad-choice": ([*LAVA_TRAIN, "--features", "pixels"], "invalid choice"),
    "lava-both-sources": ([*LAVA_TRAIN, "--text-column", "text"], "not allowed"),
    "mix-no-subcommand": (["mix"], "required"),
    "select-bad-int": ([*SELECT, "--pool", "{d}/train.jsonl", "--max-iter", "1.5"], "int"),
    # --- lava: data files
    "lava-train-missing": ([*LAVA, "--train", "{d}/nope.jsonl"], "does not exist"),
    "lava-train-missing-relative": ([*LAVA, "--train", "./nope/train"], "does not exist"),
    "lava-train-empty": ([*LAVA, "--train", "{d}/empty.jsonl"], "empty"),
    "lava-train-blank": ([*LAVA, "--train", "{d}/blank.jsonl"], "empty"),
    "lava-train-malformed": ([*LAVA, "--train", "{d}/malformed.jsonl"], "line 2"),
    "lava-train-malformed-json": ([*LAVA, "--train", "{d}/array.json"], "array.json"),
    "lava-train-bad-utf8": ([*LAVA, "--train", "{d}/bad_utf8.jsonl"], "line 2 is not valid UTF-8"),
    "lava-train-bad-utf8-csv": ([*LAVA, "--train", "{d}/bad_utf8.csv"], "line 3 is not valid UTF-8"),
    "lava-train-bad-utf8-parquet": ([*LAVA, "--train", "{d}/bad_utf8.parquet"], "row 1"),
    "lava-train-header-only-csv": ([*LAVA, "--train", "{d}/header_only.csv"], "no rows"),
    "lava-train-not-parquet": ([*LAVA, "--train", "{d}/not_parquet.parquet"], "parquet"),
    "lava-train-unknown-format": ([*LAVA, "--train", "{d}/notes.txt"], ".jsonl"),
    "lava-train-folder": ([*LAVA, "--train", "{d}/empty_run"], "empty_run"),
    "lava-train-bad-hub-id": ([*LAVA, "--train", "not a/valid/id"], "not a/valid/id"),
    "lava-train-hub-offline": ([*LAVA, "--train", "org/some-dataset"], "org/some-dataset"),
    # --- lava: options and columns
    "lava-config-missing": ([*LAVA_TRAIN, "--config", "{d}/nope.json"], "does not exist"),
    "lava-config-malformed": ([*LAVA_TRAIN, "--config", "{d}/bad.json"], "bad.json"),
    "lava-config-list": ([*LAVA_TRAIN, "--config", "{d}/list.json"], "JSON object"),
    "lava-config-unknown-field": ([*LAVA_TRAIN, "--config", "{d}/unknown_field.json"], "colour"),
    "lava-nan": ([*LAVA_TRAIN, "--lambda-y", "nan"], "finite"),
    "lava-inf": ([*LAVA_TRAIN, "--eps", "inf"], "finite"),
    "lava-negative-eps": ([*LAVA_TRAIN, "--eps", "-1"], "eps"),
    "lava-out-not-parquet": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/valid.jsonl",
            "--feature-column",
            "emb",
            "--out",
            "{d}/v.csv",
        ],
        ".parquet",
    ),  # fmt: skip
    "lava-out-exists": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/valid.jsonl",
            "--feature-column",
            "emb",
            "--out",
            "{d}/existing.parquet",
        ],
        "--overwrite",
    ),  # fmt: skip
    "lava-label-column-missing": ([*LAVA_TRAIN, "--label-column", "nope"], "nope"),
    "lava-feature-column-missing": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/valid.jsonl",
            "--feature-column",
            "nope",
            "--out",
            "{d}/o2/v.parquet",
        ],
        "nope",
    ),  # fmt: skip
    "lava-text-without-embedder": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/valid.jsonl",
            "--text-column",
            "text",
            "--out",
            "{d}/o3/v.parquet",
        ],
        "--embedder",
    ),  # fmt: skip
    "lava-embedder-missing-path": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/valid.jsonl",
            "--text-column",
            "text",
            "--embedder",
            "{d}/no-model",
            "--out",
            "{d}/o4/v.parquet",
        ],
        "does not exist",
    ),  # fmt: skip
    "lava-embedder-bad-id": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/valid.jsonl",
            "--text-column",
            "text",
            "--embedder",
            "a/b/c",
            "--out",
            "{d}/o5/v.parquet",
        ],
        "Hub id",
    ),  # fmt: skip
    "lava-valid-empty": (
        [
            "lava",
            "--train",
            "{d}/train.jsonl",
            "--valid",
            "{d}/empty.jsonl",
            "--feature-column",
            "emb",
            "--out",
            "{d}/o6/v.parquet",
        ],
        "--valid",
    ),  # fmt: skip
    # --- select
    "select-pool-missing": ([*SELECT, "--pool", "{d}/nope.jsonl"], "does not exist"),
    "select-pool-empty": ([*SELECT, "--pool", "{d}/empty.jsonl"], "empty"),
    "select-pool-malformed": ([*SELECT, "--pool", "{d}/malformed.jsonl"], "line 2"),
    "select-pool-bad-utf8": ([*SELECT, "--pool", "{d}/bad_utf8.jsonl"], "UTF-8"),
    "select-pool-bad-utf8-parquet": ([*SELECT, "--pool", "{d}/bad_utf8.parquet"], "UTF-8"),
    "select-target-missing": (
        ["select", "--pool", "{d}/train.jsonl", "--target", "{d}/nope.jsonl", "--k", "2", "--out", "{d}/sel2"],
        "does not exist",
    ),  # fmt: skip
    "select-k-zero": ([*SELECT, "--pool", "{d}/train.jsonl", "--k", "0"], "--k"),
    "select-config-missing": ([*SELECT, "--pool", "{d}/train.jsonl", "--config", "{d}/nope.json"], "nope.json"),
    "select-config-malformed": ([*SELECT, "--pool", "{d}/train.jsonl", "--config", "{d}/bad.json"], "bad.json"),
    "select-eps-nan": ([*SELECT, "--pool", "{d}/train.jsonl", "--eps", "nan"], "finite"),
    # --- mix
    "mix-ddo-table-missing": (["mix", "ddo", "--table", "{d}/nope.json", "--out", "{d}/w.json"], "does not exist"),
    "mix-ddo-table-malformed": (["mix", "ddo", "--table", "{d}/bad.json", "--out", "{d}/w.json"], "bad.json"),
    "mix-ddo-table-list": (["mix", "ddo", "--table", "{d}/list.json", "--out", "{d}/w.json"], "JSON object"),
    "mix-ddo-table-empty-file": (["mix", "ddo", "--table", "{d}/empty.jsonl", "--out", "{d}/w.json"], "JSON"),
    "mix-ddo-duplicate-domains": (
        ["mix", "ddo", "--table", "{d}/table_dup.json", "--out", "{d}/w.json"],
        "more than once",
    ),
    "mix-ddo-negative-losses": (
        ["mix", "ddo", "--table", "{d}/table_negative.json", "--out", "{d}/w.json"],
        "non-positive",
    ),  # fmt: skip
    "mix-ddo-zero-base": (
        ["mix", "ddo", "--table", "{d}/table_zero_base.json", "--out", "{d}/w.json"],
        "non-positive",
    ),
    "mix-ddo-unknown-field": (["mix", "ddo", "--table", "{d}/table_extra.json", "--out", "{d}/w.json"], "colour"),
    "mix-ddo-not-a-number": (
        ["mix", "ddo", "--table", "{d}/table_run_not_number.json", "--out", "{d}/w.json"],
        "not a number",
    ),  # fmt: skip
    "mix-ddo-table-is-folder": (["mix", "ddo", "--table", "{d}/empty_run", "--out", "{d}/w.json"], "not a file"),
    "mix-ddo-lower-out-of-range": (
        ["mix", "ddo", "--table", "{d}/table_ok.json", "--lower", "1.5", "--out", "{d}/w.json"],
        "lower",
    ),  # fmt: skip
    "mix-predict-anchor-missing": (
        [
            "mix",
            "predict",
            "--anchor",
            "{d}/nope.json",
            "--anchor",
            "{d}/weights.json",
            "--budget",
            "1e9",
            "--out",
            "{d}/p.json",
        ],
        "does not exist",
    ),  # fmt: skip
    "mix-predict-one-anchor": (
        ["mix", "predict", "--anchor", "{d}/weights.json", "--budget", "1e9", "--out", "{d}/p.json"],
        "2 budgets",
    ),  # fmt: skip
    "mix-predict-no-budget": (
        [
            "mix",
            "predict",
            "--anchor",
            "{d}/weights.json",
            "--anchor",
            "{d}/weights_no_budget.json",
            "--budget",
            "1e9",
            "--out",
            "{d}/p.json",
        ],
        "budget",
    ),  # fmt: skip
    "mix-predict-malformed": (
        [
            "mix",
            "predict",
            "--anchor",
            "{d}/bad.json",
            "--anchor",
            "{d}/weights.json",
            "--budget",
            "1e9",
            "--out",
            "{d}/p.json",
        ],
        "bad.json",
    ),  # fmt: skip
    "mix-show-missing": (["mix", "show", "{d}/nope.json"], "does not exist"),
    "mix-show-malformed": (["mix", "show", "{d}/bad.json"], "bad.json"),
    "mix-show-list": (["mix", "show", "{d}/list.json"], "JSON object"),
    "mix-show-negative": (["mix", "show", "{d}/weights_negative.json"], "negative"),
    "mix-show-unknown-field": (["mix", "show", "{d}/weights_unknown.json"], "colour"),
    # --- attribute
    "attr-model-missing": (
        [
            "attribute",
            "--model",
            "./no-such-model",
            "--train",
            "{d}/train.jsonl",
            "--test",
            "{d}/valid.jsonl",
            "--output-dir",
            "{d}/attr",
        ],
        "no-such-model",
    ),  # fmt: skip
    "attr-model-missing-abs": (
        [
            "attribute",
            "--model",
            "{d}/no-such-model",
            "--train",
            "{d}/train.jsonl",
            "--test",
            "{d}/valid.jsonl",
            "--output-dir",
            "{d}/attr",
        ],
        "no-such-model",
    ),  # fmt: skip
    "attr-model-without-config": (ATTR_TRAIN, "config.json"),
    "attr-train-missing": ([*ATTR, "--train", "{d}/nope.jsonl"], "does not exist"),
    "attr-train-empty": ([*ATTR, "--train", "{d}/empty.jsonl"], "empty"),
    "attr-train-malformed": ([*ATTR, "--train", "{d}/malformed.jsonl"], "line 2"),
    "attr-train-bad-utf8": ([*ATTR, "--train", "{d}/bad_utf8.jsonl"], "UTF-8"),
    "attr-no-test": (
        ["attribute", "--model", "{d}/model_without_config", "--train", "{d}/train.jsonl", "--output-dir", "{d}/attr"],
        "--test",
    ),  # fmt: skip
    "attr-lr-nan": ([*ATTR_TRAIN, "--lr", "nan"], "lr"),
    "attr-steps-zero": ([*ATTR_TRAIN, "--steps", "0"], "steps"),
    "attr-bad-mode": ([*ATTR_TRAIN, "--mode", "sideways"], "mode"),
    # --- push
    "push-values-missing": (["push", "{d}/nope.parquet", "--repo", "org/values"], "does not exist"),
    "push-empty-folder": (["push", "{d}/empty_run", "--repo", "org/values"], "found 0"),
    "push-two-parquets": (["push", "{d}/two_parquets", "--repo", "org/values"], "found 2"),
    "push-no-provenance": (["push", "{d}/no_prov", "--repo", "org/values"], "provenance"),
    "push-meta-missing": (
        ["push", "{d}/values.parquet", "--repo", "org/values", "--meta", "{d}/nope.json"],
        "does not exist",
    ),  # fmt: skip
    "push-meta-malformed": (
        ["push", "{d}/values.parquet", "--repo", "org/values", "--meta", "{d}/bad.json"],
        "bad.json",
    ),  # fmt: skip
    "push-meta-missing-fields": (
        ["push", "{d}/values.parquet", "--repo", "org/values", "--meta", "{d}/meta_missing_fields.json"],
        "score_column",
    ),  # fmt: skip
    "push-not-parquet": (["push", "{d}/not_parquet.parquet", "--repo", "org/values"], "parquet"),
    "push-string-scores": (["push", "{d}/string_values", "--repo", "org/values"], "numeric"),
    "push-bad-config-name": (["push", "{d}/values.parquet", "--repo", "org/values", "--config", "default"], "config"),
    "push-branch-revision": (
        ["push", "{d}/values.parquet", "--repo", "org/values", "--source-revision", "main"],
        "commit sha",
    ),  # fmt: skip
    "push-source-missing": (
        ["push", "{d}/values.parquet", "--repo", "org/values", "--source", "{d}/nope.jsonl"],
        "does not exist",
    ),  # fmt: skip
    # --- pull
    "pull-repo-offline": (PULL, "org/values"),
    "pull-revision-offline": ([*PULL, "--revision", "v9"], "org/values"),
    "pull-bad-repo-id": (["pull", "not/a/repo", "--config", "lava", "--out", "{d}/pulled-new"], "not/a/repo"),
    "pull-bad-config": (["pull", "org/values", "--config", "default", "--out", "{d}/pulled-new"], "config"),
    "pull-out-exists": (["pull", "org/values", "--config", "lava", "--out", "{d}/pulled"], "--overwrite"),
    # --- attach
    "attach-data-missing": ([*ATTACH, "--data", "{d}/nope.jsonl"], "does not exist"),
    "attach-data-malformed": ([*ATTACH, "--data", "{d}/malformed.jsonl"], "line 2"),
    "attach-data-empty": ([*ATTACH, "--data", "{d}/empty.jsonl"], "empty"),
    "attach-repo-offline": ([*ATTACH, "--data", "{d}/train.jsonl"], "org/values"),
    "attach-out-not-parquet": (
        ["attach", "org/values", "--config", "lava", "--data", "{d}/train.jsonl", "--out", "{d}/a.csv"],
        ".parquet",
    ),  # fmt: skip
    "attach-out-exists": (
        ["attach", "org/values", "--config", "lava", "--data", "{d}/train.jsonl", "--out", "{d}/existing.parquet"],
        "--overwrite",
    ),  # fmt: skip
}


@pytest.fixture(autouse=True)
def fresh_logging():
    """`main()` configures logging on the stderr of its call; drop that handler so each case sees its own."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    yield
    root.handlers = saved


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_error_line_and_exit_code_2(name, d, capsys):
    argv, expected = CASES[name]
    argv = [a.replace("{d}", str(d)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0], lines[0]
    sys.__stdout__.write(f"{name}: {lines[0]}\n")


def test_a_bug_is_not_hidden(monkeypatch, d):
    """Unknown exception types keep their traceback: the handler is not a blanket `except Exception`."""
    from hf_datavalue.commands import mix

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(mix, "_show", broken)
    with pytest.raises(ZeroDivisionError):
        main(["mix", "show", str(d / "weights.json")])


@pytest.mark.parametrize("source", ["bad_utf8.jsonl", "bad_utf8.parquet"])
@pytest.mark.parametrize("streaming", [False, True])
def test_select_refuses_invalid_utf8_before_writing_anything(d, tmp_path, capsys, source, streaming):
    out = tmp_path / "sel"
    argv = ["select", "--pool", str(d / source), "--target", str(d / "valid.jsonl"), "--k", "1", "--out", str(out)]
    assert main(argv + (["--streaming"] if streaming else [])) == 2
    err = capsys.readouterr().err
    assert "UTF-8" in err and source in err
    assert not (out / "selected.parquet").exists()
