"""`hf-datavalue project`: Projektor's OT-based source selection and performance prediction.

Usage:

```bash
# OT-only selection (no performance labels): minimise OT(p) at N = 1000
hf-datavalue project select --source s1=s1.jsonl --source s2=s2.jsonl --source s3=s3.jsonl --valid valid.jsonl \
    --feature-column embedding --label-column label --size 1000 --ot-only --out weights.json
# fit the predictor on pilot labels (labels.jsonl rows: {"p": [...], "size": N, "accuracy": ...})
hf-datavalue project fit --source ... --valid valid.jsonl --feature-column embedding --label-column label \
    --labels labels.jsonl --out predictor.json
hf-datavalue project predict --predictor predictor.json --source ... --valid valid.jsonl --feature-column embedding \
    --label-column label --mixture 0.4,0.3,0.3 --size 10000
hf-datavalue project select --predictor predictor.json --source ... --valid valid.jsonl --feature-column embedding \
    --label-column label --size 10000 --out weights.json
```
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

import numpy as np

from ..core.config import read_json_arg
from ..core.errors import ConfigError, EmptyDatasetError, LabelError, MissingColumnError
from ..core.io import read_json, write_json_atomic

__all__ = ["register"]


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", action="append", required=True, metavar="NAME=PATH", help="a pilot source (repeat)")
    p.add_argument("--valid", required=True, help="validation set (jsonl/json/csv/parquet or save_to_disk folder)")
    p.add_argument("--feature-column", required=True, help="column of fixed feature vectors")
    p.add_argument("--label-column", required=True, help="column of class labels")
    p.add_argument("--config", help="a ProjektorConfig JSON (file or text)")
    p.add_argument("--eps", type=float, help="override the config's eps")
    p.add_argument("--eps-mode", choices=("absolute", "relative"), help="override the config's eps_mode")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument(
        "--mixture-mode",
        choices=("resampled", "mass"),
        help="override the config's mixture_mode (resampled draws, or mass-weighted pilots)",
    )
    p.add_argument("--ot-mode", choices=("resampled", "mass"), help="Deprecated alias of --mixture-mode.")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("project", help="Projektor: OT-based source selection and performance prediction")
    sub = parser.add_subparsers(dest="project_command", required=True)

    sel = sub.add_parser("select", help="select source shares for a purchase of N examples")
    _add_data_args(sel)
    sel.add_argument("--size", type=int, required=True, help="target size N")
    sel.add_argument("--ot-only", action="store_true", help="minimise OT(p) alone (no predictor needed)")
    sel.add_argument("--predictor", help="a predictor JSON written by `project fit`")
    sel.add_argument("--steps", type=int, help="projected-gradient iterations")
    sel.add_argument("--prices", help="comma-separated price per example of each source")
    sel.add_argument("--budget", type=float, help="total budget of the purchase")
    sel.add_argument("--out", required=True, help="MixtureWeights JSON to write")
    sel.set_defaults(func=_select)

    fit = sub.add_parser("fit", help="fit the stage-1/2 predictor on pilot performance labels")
    _add_data_args(fit)
    fit.add_argument("--labels", required=True, help='JSON Lines rows {"p": [...], "size": N, "<target>": score}')
    fit.add_argument(
        "--target",
        choices=("accuracy", "loss", "log_loss"),
        help="performance quantity the labels measure (default: accuracy)",
    )
    fit.add_argument(
        "--design",
        choices=("library", "notebook"),
        help="stage-1 design: library (full rank, the default) or notebook (reference)",
    )
    fit.add_argument(
        "--ridge",
        type=float,
        help="L2 penalty of the stage-1 fit on standardised columns (default 0: OLS, the reference)",
    )
    fit.add_argument("--out", required=True, help="predictor JSON to write")
    fit.set_defaults(func=_fit)

    pred = sub.add_parser("predict", help="predict the performance of a mixture at size N")
    _add_data_args(pred)
    pred.add_argument("--predictor", required=True, help="predictor JSON written by `project fit`")
    pred.add_argument("--mixture", required=True, help="comma-separated shares in --source order")
    pred.add_argument("--size", type=float, required=True, help="target total size N")
    pred.set_defaults(func=_predict)


def _parse_sources(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--source takes NAME=PATH, got {item!r}")
        out.append((name, path))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"source names must be distinct, got {names}")
    return out


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _load(args: argparse.Namespace) -> tuple[list[str], list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    from ._data import load_table

    sources = _parse_sources(args.source)
    tables = [(name, load_table(path)) for name, path in sources]
    valid = load_table(args.valid)
    for what, tbl in [*tables, ("validation set", valid)]:
        for col in (args.feature_column, args.label_column):
            if col not in tbl.column_names:
                raise MissingColumnError(f"{what}", col, tbl.column_names)
        if len(tbl) == 0:
            raise EmptyDatasetError(f"{what} is empty")
    raw_valid = list(valid[args.label_column])
    classes = sorted(set(raw_valid), key=str)
    ids = {c: i for i, c in enumerate(classes)}
    nxt = len(classes)
    xs, ys = [], []
    for name, tbl in tables:
        labels = []
        for c in tbl[args.label_column]:
            if c not in ids:
                ids[c] = nxt
                nxt += 1
            labels.append(ids[c])
        xs.append(np.asarray(tbl[args.feature_column], dtype=np.float64))
        ys.append(np.asarray(labels, dtype=np.int64))
        if not set(ys[-1].tolist()) & set(range(len(classes))):
            raise LabelError(f"source {name!r} shares no label with the validation set")
    xv = np.asarray(valid[args.feature_column], dtype=np.float64)
    yv = np.asarray([ids[c] for c in raw_valid], dtype=np.int64)
    return [n for n, _ in sources], xs, ys, xv, yv


def _config(args: argparse.Namespace, **defaults: Any) -> Any:
    from ..projektor import ProjektorConfig

    data = ProjektorConfig().to_dict()
    data.update({k: v for k, v in defaults.items() if k != "method"})
    if args.config:
        # precedence: built-in defaults < command defaults < the keys the --config file sets < explicit flags
        ProjektorConfig.from_json(args.config)  # validate the whole file first
        data.update({k: v for k, v in read_json_arg(args.config).items() if k != "method"})
    if getattr(args, "ot_mode", None) is not None:
        warnings.warn("--ot-mode is deprecated: use --mixture-mode", FutureWarning, stacklevel=2)
        if args.mixture_mode is not None and args.mixture_mode != args.ot_mode:
            raise ConfigError("--mixture-mode and its deprecated alias --ot-mode disagree: pass only --mixture-mode")
        args.mixture_mode = args.ot_mode
    for key in ("eps", "eps_mode", "seed", "mixture_mode", "target", "design", "ridge"):
        if getattr(args, key, None) is not None:
            data[key] = getattr(args, key)
    return ProjektorConfig.from_dict(data)


def _select(args: argparse.Namespace) -> int:
    from ..projektor import MixtureOT, ProjektorPredictor, ProjektorSelector, ot_only_selection

    if args.ot_only == bool(args.predictor):
        raise ConfigError("project select needs exactly one of --ot-only or --predictor PATH")
    names, xs, ys, xv, yv = _load(args)
    prices = _floats(args.prices, "--prices") if args.prices else None
    if args.ot_only:
        cfg = _config(args, lr=0.05, decay=0.95, normalized_steps=True)
        sel = ot_only_selection(
            xs, ys, xv, yv, args.size, names=names, prices=prices, budget=args.budget, config=cfg,
            steps=args.steps if args.steps is not None else 100,
        )  # fmt: skip
    else:
        saved = read_json(args.predictor)
        cfg = _config(args, **saved.get("config", {}))
        pred = ProjektorPredictor.from_dict(saved["predictor"])
        sel = ProjektorSelector(pred, MixtureOT(xs, ys, xv, yv, config=cfg, names=names), cfg).select(
            args.size, steps=args.steps, prices=prices, budget=args.budget
        )
    sel.weights.save(args.out)
    print(json.dumps({"weights": sel.weights.weights, "predicted": sel.predicted}))
    return 0


def _fit(args: argparse.Namespace) -> int:
    from ..projektor import MixtureOT, ProjektorPredictor
    from ..projektor.labels import PerformanceLabels

    names, xs, ys, xv, yv = _load(args)
    cfg = _config(args)
    rows = []
    with open(args.labels, encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    raise ConfigError(f"{args.labels} line {k + 1} is not JSON") from None
    sizes = sorted({int(r["size"]) for r in rows})
    if len(sizes) != 2:
        raise ConfigError(f"the labels must cover exactly two pilot sizes, found {sizes}")
    ot = MixtureOT(xs, ys, xv, yv, config=cfg, names=names)
    ots, perf, mixes = {}, {}, None
    for n in sizes:
        p, y = PerformanceLabels.table(rows, cfg.target, n)
        if mixes is not None and (p.shape != mixes.shape or not np.allclose(p, mixes)):
            raise ConfigError("the labels at the two sizes must cover the same mixtures")
        mixes = p
        ots[n], perf[n] = ot.values(p, n), y
    # the predictor follows the config (a --config file may set design, target and ridge)
    pred = ProjektorPredictor(design=cfg.design, target=cfg.target, ridge=cfg.ridge)
    pred.fit(ots, mixes, perf)  # type: ignore[arg-type]
    write_json_atomic(args.out, {"sources": names, "predictor": pred.to_dict(), "config": cfg.to_dict()})
    print(json.dumps({n: pred.fits[n].train_mse for n in pred.fits}), file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..projektor import MixtureOT, ProjektorPredictor

    saved = read_json(args.predictor)
    names, xs, ys, xv, yv = _load(args)
    cfg = _config(args, **saved.get("config", {}))
    pred = ProjektorPredictor.from_dict(saved["predictor"])
    p = np.asarray(_floats(args.mixture, "--mixture"))
    n0, n1 = pred.sizes
    ot = MixtureOT(xs, ys, xv, yv, config=cfg, names=names)
    from ..projektor import check_mixture

    mix = check_mixture(p, len(names))
    value = pred.project(mix, args.size, (ot.evaluate(mix, n0).value, ot.evaluate(mix, n1).value))
    print(json.dumps({"mixture": dict(zip(names, mix.tolist())), "size": args.size, pred.target: value}))
    return 0
