"""Plots for mixtures: grouped weight bars and loss curves (matplotlib, Agg backend, imported lazily).

Usage:

```python
from hf_datavalue.mixing.plots import plot_weights

plot_weights({"DDO 0.3B": w_small, "AutoScale 10B": w_big}, path="weights.png")
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.plots import _plt, plot_weights, save_figure

__all__ = ["plot_curves", "plot_weights"]


def plot_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike[str] | None = None,
    xlabel: str = "step",
    ylabel: str = "validation loss",
    title: str | None = None,
) -> Any:
    """Line plot of `label -> (steps, values)` curves; returns the figure (and writes a PNG to `path`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in curves.items():
        ax.plot(list(xs), list(ys), marker="o", ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=120)
    plt.close(fig)
    return fig
