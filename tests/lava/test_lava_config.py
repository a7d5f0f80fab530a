"""LavaConfig: non-finite numbers are rejected (Python and CLI), the faithful preset keeps the paper's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset

from hf_datavalue.cli import main
from hf_datavalue.core.errors import ConfigError
from hf_datavalue.lava import LavaConfig


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_lambda_y_is_rejected(value):
    with pytest.raises(ConfigError, match="lambda_y"):
        LavaConfig(lambda_y=value)
    with pytest.raises(ConfigError, match="probe_l2"):
        LavaConfig(probe_l2=value)


def test_cli_lambda_y_nan_fails_with_one_clear_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [{"x": rng.normal(size=3).tolist(), "label": i % 2} for i in range(8)]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "v.parquet"
    args = ["lava", "--train", str(tmp_path / "t.jsonl"), "--valid", str(tmp_path / "t.jsonl"),
            "--feature-column", "x", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main([*args, "--lambda-y", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "lambda_y" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_faithful_preset_has_the_papers_weights():
    cfg = LavaConfig.faithful_preset(embedding_column="logits")
    assert (cfg.lambda_x, cfg.lambda_y, cfg.eps, cfg.inner_eps, cfg.eps_mode) == (1.0, 1.0, 0.1, 0.1, "absolute")
    assert cfg.features == "model_logits" and cfg.embedding_column == "logits"
    assert LavaConfig.from_dict(cfg.to_dict()) == cfg
    assert LavaConfig.faithful_preset(lambda_y=2.0).lambda_y == 2.0
    with pytest.raises(ConfigError):
        LavaConfig.faithful_preset(lambda_y=float("nan"))


def test_faithful_preset_runs():
    from hf_datavalue.lava import LavaValuer

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    x[:, 0] += 4 * y
    train = Dataset.from_dict({"x": x.tolist(), "label": y.tolist()})
    res = LavaValuer(LavaConfig.faithful_preset(embedding_column="x"), progress=False).compute(train, train)
    assert res.provenance.params["features"] == "model_logits" and abs(res.values.sum()) < 1e-6
