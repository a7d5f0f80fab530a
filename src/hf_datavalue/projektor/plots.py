"""Projektor plots: predicted vs measured performance, and the OT landscape on the 3-source simplex with a path.

Usage:

```python
from hf_datavalue.projektor.plots import plot_ot_landscape, plot_predicted_vs_measured

plot_predicted_vs_measured(measured, {"Projektor": pred}, path="pred.png")
plot_ot_landscape(simplex_grid(3, 10), ot_values, path=selection.path, out="landscape.png")
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.errors import ShapeMismatchError

__all__ = ["plot_ot_landscape", "plot_predicted_vs_measured"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_predicted_vs_measured(
    measured: Sequence[float] | np.ndarray,
    predicted: Mapping[str, Sequence[float] | np.ndarray],
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Any:
    """Scatter of each predictor's values against the measured ones, with the identity line; returns the figure."""
    plt = _plt()
    y = np.asarray(measured, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, pred in predicted.items():
        p = np.asarray(pred, dtype=np.float64)
        if p.shape != y.shape:
            raise ShapeMismatchError(f"{name}: {p.shape} predictions for {y.shape} measurements")
        ax.scatter(y, p, s=12, label=f"{name} (MAE {np.mean(np.abs(p - y)):.2f})")
    lo, hi = (
        float(min(y.min(), *(np.min(v) for v in predicted.values()))),
        float(max(y.max(), *(np.max(v) for v in predicted.values()))),
    )
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("measured")
    ax.set_ylabel("predicted")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_ot_landscape(
    mixtures: np.ndarray,
    values: Sequence[float] | np.ndarray,
    path: Sequence[np.ndarray] | None = None,
    out: str | os.PathLike[str] | None = None,
    title: str | None = None,
    names: Sequence[str] = ("S1", "S2", "S3"),
) -> Any:
    """OT values on the 3-source simplex (barycentric coordinates) with an optional selection path."""
    plt = _plt()
    p = np.asarray(mixtures, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ShapeMismatchError(f"the landscape needs 3-source mixtures, got shape {p.shape}")
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    xy = p @ corners
    fig, ax = plt.subplots(figsize=(5, 4.4))
    tri = ax.tricontourf(xy[:, 0], xy[:, 1], np.asarray(values, dtype=np.float64), levels=20, cmap="viridis")
    fig.colorbar(tri, ax=ax, label="OT")
    best = xy[int(np.argmin(values))]
    ax.scatter([best[0]], [best[1]], marker="*", s=120, c="white", edgecolors="k", label="grid minimum")
    if path is not None and len(path):
        q = np.asarray(path) @ corners
        ax.plot(q[:, 0], q[:, 1], "r.-", ms=3, lw=1, label="selection path")
    for (cx, cy), name in zip(corners, names):
        ax.annotate(name, (cx, cy), textcoords="offset points", xytext=(0, 4), ha="center")
    ax.set_axis_off()
    ax.legend(fontsize=7, loc="upper right")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    if out is not None:
        fig.savefig(out, dpi=120)
    return fig
