"""Plots of LAVA values (matplotlib, Agg backend: safe on headless machines).

Usage:

```python
from hf_datavalue.lava.plots import plot_value_histogram

plot_value_histogram(result.values, "values.png", flagged=flipped_mask)
```
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.plots import save_figure

__all__ = ["plot_value_histogram"]


def plot_value_histogram(
    values: np.ndarray,
    path: str | os.PathLike[str],
    flagged: np.ndarray | None = None,
    title: str = "LAVA values (higher = more harmful)",
    bins: int = 60,
) -> Path:
    """Histogram of values; with `flagged` (e.g. known flipped labels), the two groups are overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    values = np.asarray(values, dtype=np.float64)
    edges = np.histogram_bin_edges(values, bins=bins).tolist()
    if flagged is None:
        ax.hist(values, bins=edges, color="#4c72b0")
    else:
        flagged = np.asarray(flagged, dtype=bool)
        ax.hist(values[~flagged], bins=edges, alpha=0.7, label=f"clean ({int((~flagged).sum())})", color="#4c72b0")
        ax.hist(values[flagged], bins=edges, alpha=0.7, label=f"flagged ({int(flagged.sum())})", color="#dd8452")
        ax.legend()
    ax.set_xlabel("value")
    ax.set_ylabel("rows")
    ax.set_title(title)
    fig.tight_layout()
    out = save_figure(fig, path, format="png")
    plt.close(fig)
    return out
