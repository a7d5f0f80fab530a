"""`hf-datavalue mix`: DDO weights from a loss table, AutoScale predictions, and a look at saved weights.

Usage:

```bash
hf-datavalue mix ddo --table loss_table.json --out weights_small.json --lower 0.2
hf-datavalue mix predict --anchor weights_small.json --anchor weights_large.json --budget 1.6e6 --out weights_target.json
hf-datavalue mix show weights_target.json --plot weights.png
```
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `mix` command group to the CLI."""
    mix = subparsers.add_parser("mix", help="DDO / AutoScale domain mixtures")
    sub = mix.add_subparsers(dest="mix_command", required=True)

    ddo = sub.add_parser("ddo", help="fit DDO weights from a measured loss table (JSON, see LossTable)")
    ddo.add_argument("--table", required=True, help="loss_table.json written by DDORunner or by hand")
    ddo.add_argument("--out", required=True, help="where to write the weights JSON")
    ddo.add_argument("--lower", type=float, default=0.2, help="lower bound on each multiplier n_i = m*w_i")
    ddo.set_defaults(func=_ddo)

    pred = sub.add_parser("predict", help="AutoScale: predict weights at a target budget from >= 2 anchors")
    pred.add_argument("--anchor", action="append", required=True, help="weights JSON with a budget (repeat)")
    pred.add_argument("--budget", type=float, required=True, help="target budget, in the anchors' unit")
    pred.add_argument("--out", required=True, help="where to write the predicted weights JSON")
    pred.set_defaults(func=_predict)

    show = sub.add_parser("show", help="print saved weights (and optionally plot them)")
    show.add_argument("weights", help="weights JSON")
    show.add_argument("--plot", default=None, help="write a bar chart PNG here")
    show.set_defaults(func=_show)


def _existing(path: str, flag: str) -> str:
    if not Path(path).is_file():
        raise ConfigError(
            f"{flag} {path} does not exist" if not Path(path).exists() else f"{flag} {path} is not a file"
        )
    return path


def _ddo(args: argparse.Namespace) -> int:
    from ..mixing.ddo import DDO, DDOConfig, LossTable

    table = LossTable.load(_existing(args.table, "--table"))
    weights = DDO(DDOConfig(lower=args.lower)).fit(table)
    weights.save(args.out)
    _print(weights)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..core.mixture import MixtureWeights
    from ..mixing.autoscale import AutoScale

    anchors = [MixtureWeights.load(_existing(p, "--anchor")) for p in args.anchor]
    weights = AutoScale(anchors).predict(args.budget)
    weights.save(args.out)
    _print(weights)
    return 0


def _show(args: argparse.Namespace) -> int:
    from ..core.mixture import MixtureWeights

    weights = MixtureWeights.load(_existing(args.weights, "weights file"))
    _print(weights)
    if args.plot:
        weights.plot(args.plot)
    return 0


def _print(weights: Any) -> None:
    width = max(len(d) for d in weights.domains)
    head = {"unit": weights.unit, "budget": weights.budget, "predicted_loss": weights.predicted_loss}
    sys.stdout.write(json.dumps(head) + "\n")
    for d, w in weights.weights.items():
        sys.stdout.write(f"{d:<{width}}  {w:.4f}\n")
