"""`hf-datavalue project select|fit|predict` on small JSON Lines files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_datavalue.cli import main
from hf_datavalue.core.mixture import MixtureWeights
from hf_datavalue.projektor import simplex_grid
from hf_datavalue.projektor.labels import PerformanceLabels, logistic_regression_learner

from .helpers import gaussian_sources

NAMES = ["cats", "dogs", "birds"]


def _write(path, x, y):
    with open(path, "w") as fh:
        for row, lab in zip(x, y):
            fh.write(json.dumps({"emb": row.tolist(), "label": f"class{int(lab)}"}) + "\n")
    return str(path)


@pytest.fixture
def files(tmp_path):
    xs, ys, xv, yv = gaussian_sources(n=60, n_valid=40, d=3)
    sources = [f"{n}={_write(tmp_path / f'{n}.jsonl', x, y)}" for n, x, y in zip(NAMES, xs, ys)]
    return sources, _write(tmp_path / "valid.jsonl", xv, yv), (xs, ys, xv, yv)


def _data_args(sources, valid):
    args = []
    for s in sources:
        args += ["--source", s]
    return [*args, "--valid", valid, "--feature-column", "emb", "--label-column", "label", "--eps", "0.1",
            "--eps-mode", "relative", "--config", '{"distance": "plain", "tol": 0.001}']  # fmt: skip


def test_select_ot_only_writes_mixture_weights(files, tmp_path):
    sources, valid, _ = files
    out = tmp_path / "weights.json"
    rc = main(["project", "select", *_data_args(sources, valid), "--size", "200", "--ot-only", "--steps", "5",
               "--out", str(out)])  # fmt: skip
    assert rc == 0
    data = json.loads(out.read_text())
    assert sorted(data["weights"]) == sorted(NAMES) and abs(sum(data["weights"].values()) - 1) < 1e-12
    assert MixtureWeights.load(out).unit == "examples"


def test_fit_predict_select_with_a_predictor(files, tmp_path, capsys):
    sources, valid, (xs, ys, xv, yv) = files
    learner = logistic_regression_learner(xs, ys, xv, yv, max_iter=50)
    PerformanceLabels([len(x) for x in xs], learner, tmp_path / "labels").run(simplex_grid(3, 4), sizes=[60, 90])
    pred = tmp_path / "predictor.json"
    assert main(["project", "fit", *_data_args(sources, valid), "--labels", str(tmp_path / "labels" / "labels.jsonl"),
                 "--out", str(pred)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["project", "predict", *_data_args(sources, valid), "--predictor", str(pred), "--mixture",
                 "0.4,0.3,0.3", "--size", "1000"]) == 0  # fmt: skip
    assert np.isfinite(json.loads(capsys.readouterr().out)["accuracy"])
    out = tmp_path / "w.json"
    assert main(["project", "select", *_data_args(sources, valid), "--predictor", str(pred), "--size", "1000",
                 "--steps", "2", "--out", str(out)]) == 0  # fmt: skip
    assert MixtureWeights.load(out).predicted_loss is not None
    # --ridge reaches the saved predictor and its config
    ridged = tmp_path / "ridged.json"
    assert main(["project", "fit", *_data_args(sources, valid), "--labels", str(tmp_path / "labels" / "labels.jsonl"),
                 "--ridge", "5", "--out", str(ridged)]) == 0  # fmt: skip
    saved = json.loads(ridged.read_text())
    assert saved["predictor"]["ridge"] == 5.0 and saved["config"]["ridge"] == 5.0
    assert saved["predictor"]["fits"] != json.loads(pred.read_text())["predictor"]["fits"]


def test_bad_cli_input_is_one_error_line(files, tmp_path, capsys):
    sources, valid, _ = files
    rc = main(["project", "select", *_data_args(sources, valid), "--size", "200", "--out", str(tmp_path / "w")])
    assert rc == 2 and "exactly one of --ot-only" in capsys.readouterr().err
    rc = main(["project", "select", "--source", "bad", "--valid", valid, "--feature-column", "emb",
               "--label-column", "label", "--size", "10", "--ot-only", "--out", str(tmp_path / "w")])  # fmt: skip
    assert rc == 2 and "NAME=PATH" in capsys.readouterr().err
    rc = main(["project", "select", *_data_args(sources, valid)[:-6], "--feature-column", "nope", "--size", "10",
               "--ot-only", "--out", str(tmp_path / "w")])  # fmt: skip
    assert rc == 2 and "nope" in capsys.readouterr().err


def test_config_precedence_file_keys_over_command_defaults_flags_over_file():
    import argparse

    from hf_datavalue.commands.project import _config

    args = argparse.Namespace(config='{"tol": 0.001, "design": "notebook"}', eps=None, eps_mode=None, seed=None,
                              mixture_mode=None, ot_mode=None, target=None, design=None, ridge=2.0)  # fmt: skip
    cfg = _config(args, lr=0.05, normalized_steps=True)
    # a file that does not set lr leaves the command's lr alone (it used to reset it to 5e-4)
    assert (cfg.lr, cfg.normalized_steps, cfg.tol, cfg.design, cfg.ridge) == (0.05, True, 0.001, "notebook", 2.0)
    args.design = "library"
    assert _config(args).design == "library"
