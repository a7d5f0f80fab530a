"""`hf-datavalue attribute` on a saved tiny model and pre-tokenized JSON Lines files."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from hf_datavalue.attribution import AttributionResult
from hf_datavalue.commands import attribute
from hf_datavalue.core.errors import ConfigError, OutputExistsError

from .helpers import tiny_bert, token_dataset


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hf-datavalue")
    attribute.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["attribute", *argv])


@pytest.fixture
def files(tmp_path):
    model_dir = tmp_path / "model"
    tiny_bert().save_pretrained(model_dir)
    for name, n, seed in (("train", 12, 0), ("test", 2, 1)):
        ds = token_dataset(n, seed=seed).rename_column("labels", "label")
        with open(tmp_path / f"{name}.jsonl", "w") as f:
            for row in ds:
                f.write(json.dumps(row) + "\n")
    return tmp_path, model_dir


@pytest.mark.parametrize("method,shape", [("forward-inf", (12, 2)), ("grad-dot", (12, 2)), ("self-loss", (12, 1))])
def test_attribute_command(files, method, shape):
    tmp, model_dir = files
    out = tmp / f"out-{method}"
    argv = ["--model", str(model_dir), "--train", str(tmp / "train.jsonl"), "--test", str(tmp / "test.jsonl"),
            "--method", method, "--output-dir", str(out), "--params", "classifier.*"]  # fmt: skip
    args = parse(argv)
    assert args.func(args) == 0
    res = AttributionResult.load(out)
    assert res.scores.shape == shape and np.isfinite(res.scores).all()
    with pytest.raises(OutputExistsError):
        args.func(args)


def test_attribute_command_needs_a_test_set(files):
    tmp, model_dir = files
    args = parse(["--model", str(model_dir), "--train", str(tmp / "train.jsonl"), "--output-dir", str(tmp / "o")])
    with pytest.raises(ConfigError, match="--test"):
        args.func(args)
