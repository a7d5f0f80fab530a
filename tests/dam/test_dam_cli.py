"""`hf-datavalue dam build | propose | score` end to end, `--help` listing the strategies, bad input -> exit 2."""

from __future__ import annotations

import argparse
import json
import sys

import pytest

from hf_datavalue.commands import dam as dam_command
from hf_datavalue.core.errors import DataValueError
from hf_datavalue.dam import DamConfig
from hf_datavalue.dam.strategies import available_strategies

from .toy import blobs


def main(argv: list[str]) -> int:
    """`hf-datavalue` with the `dam` sub-command only (the same error handling as `hf_datavalue.cli.main`)."""
    parser = argparse.ArgumentParser(prog="hf-datavalue")
    dam_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def test_dam_is_a_registered_cli_command():
    from hf_datavalue import get_method

    assert get_method("dam").cli_command == "dam"


@pytest.fixture(scope="module")
def market_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("dam-cli")
    data = root / "blobs.parquet"
    blobs().to_parquet(str(data))
    cfg = root / "cfg.json"
    DamConfig(min_seller_size=20, max_seller_size=120, trials=2).save(cfg)
    argv = ["dam", "build", "--data", str(data), "--feature-column", "embedding", "--label-column", "label",
            "--marketplaces", "2", "--sellers", "6", "--buyer-size", "200", "--seed", "3", "--config", str(cfg),
            "--out", str(root / "market")]  # fmt: skip
    assert main(argv) == 0
    return root


def test_build_propose_score(market_dir, capsys):
    market = market_dir / "market"
    assert (market / "manifest.json").exists() and (market / "public" / "1" / "market.json").exists()
    sub = market_dir / "sub"
    assert main(["dam", "propose", "--market", str(market), "--strategy", "uniform", "--out", str(sub)]) == 0
    line = (sub / "0.txt").read_text().strip().split(",")
    assert len(line) == 6 and all(v.isdigit() for v in line)
    out = market_dir / "scores.json"
    assert main(["dam", "score", "--market", str(market), "--submission", str(sub), "--out", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert 0 < scores["accuracy"] <= 1 and 0 < scores["score"] <= 1
    per = scores["marketplaces"]
    assert len(per) == 2
    assert scores["score"] == pytest.approx(sum(m["score"] for m in per) / 2)
    assert scores["accuracy"] == pytest.approx(sum(m["accuracy"] for m in per) / 2)


def test_propose_help_lists_strategies(capsys):
    with pytest.raises(SystemExit):
        main(["dam", "propose", "--help"])
    text = capsys.readouterr().out
    for name in available_strategies():
        assert name in text


def test_bad_submission_exits_2(market_dir, capsys):
    bad = market_dir / "bad"
    bad.mkdir()
    (bad / "0.txt").write_text("1,2,3\n")
    (bad / "1.txt").write_text("0,0,0,0,0,0\n")
    argv = ["dam", "score", "--market", str(market_dir / "market"), "--submission", str(bad), "--out",
            str(market_dir / "x.json")]  # fmt: skip
    assert main(argv) == 2
    assert "3 entries" in capsys.readouterr().err
    over = market_dir / "over"
    over.mkdir()
    for k in range(2):
        (over / f"{k}.txt").write_text("1000,0,0,0,0,0\n")
    argv[5] = str(over)
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err
    argv = ["dam", "propose", "--market", str(market_dir / "market"), "--strategy", "uniform", "--budget", "0.001",
            "--out", str(market_dir / "y")]  # fmt: skip
    assert main(argv) == 2
    assert "cheapest purchase" in capsys.readouterr().err
