"""Every CLI flag has help text; result files honour the umask; `--overwrite` is needed to replace outputs."""

from __future__ import annotations

import argparse
import json
import os
import stat

import numpy as np
import pyarrow.parquet as pq
import pytest

from hf_datavalue.cli import build_parser, main


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "hf-datavalue"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subparsers(sub, f"{prefix} {name}")


def test_every_flag_of_every_sub_command_has_help():
    missing = []
    commands = list(_subparsers(build_parser()))
    assert {c for c, _ in commands} >= {"hf-datavalue lava", "hf-datavalue attribute", "hf-datavalue select",
                                        "hf-datavalue mix ddo", "hf-datavalue push", "hf-datavalue pull",
                                        "hf-datavalue attach"}  # fmt: skip
    for command, parser in commands:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{command} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"flags without help: {missing}"


def test_lava_and_attribute_flags_come_from_their_configs():
    from hf_datavalue.attribution import ForwardInfConfig
    from hf_datavalue.lava import LavaConfig

    helps = {c: p.format_help() for c, p in _subparsers(build_parser())}
    for field in ("lambda_y", "probe_l2", "inner_eps", "allow_missing_classes"):
        assert "--" + field.replace("_", "-") in helps["hf-datavalue lava"], field
    assert LavaConfig.__dataclass_fields__["probe_l2"].metadata["help"].split()[0] in helps["hf-datavalue lava"]
    for field in ("lr", "steps", "optimizer", "direction", "query_chunk_size", "token_reduction"):
        assert "--" + field.replace("_", "-") in helps["hf-datavalue attribute"], field
    attribute_help = " ".join(helps["hf-datavalue attribute"].split())
    assert ForwardInfConfig.__dataclass_fields__["query_chunk_size"].metadata["help"] in attribute_help


@pytest.fixture
def lava_inputs(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("train", 24), ("valid", 12)):
        with open(tmp_path / f"{name}.jsonl", "w") as f:
            for i in range(n):
                label = i % 2
                emb = (rng.standard_normal(4) + 3 * label).tolist()
                f.write(json.dumps({"emb": emb, "label": label}) + "\n")
    return tmp_path


def test_lava_out_is_not_replaced_without_overwrite_and_honours_the_umask(lava_inputs, capsys):
    d = lava_inputs
    out = d / "res" / "values.parquet"
    argv = ["lava", "--train", str(d / "train.jsonl"), "--valid", str(d / "valid.jsonl"), "--feature-column", "emb",
            "--out", str(out), "--no-progress", "--plot", str(d / "res" / "hist.png")]  # fmt: skip
    old = os.umask(0o022)
    try:
        assert main(argv) == 0
        for path in (out, out.with_name("meta.json"), d / "res" / "hist.png"):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path
        first = pq.read_table(out)
        capsys.readouterr()
        assert main(argv) == 2
        assert "--overwrite" in capsys.readouterr().err
        assert pq.read_table(out).equals(first)
        assert main([*argv, "--overwrite"]) == 0
    finally:
        os.umask(old)
    assert not list((d / "res").glob(".*.tmp"))
