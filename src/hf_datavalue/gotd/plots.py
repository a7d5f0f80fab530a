"""Plots of GOT-D scores (matplotlib, Agg backend: safe on headless machines; written atomically).

Usage:

```python
from hf_datavalue.gotd.plots import plot_scores_by_domain

plot_scores_by_domain(result.score, result.domain, k=1000, path="scores_by_domain.png")
```
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core.io import atomic_path

__all__ = ["plot_scores_by_domain"]


def plot_scores_by_domain(
    scores: np.ndarray, domains: np.ndarray | None, k: int | None = None, path: str | os.PathLike[str] | None = None
) -> Any:
    """Histograms of `gotd_score` per domain, with the k-th best score as a vertical line.

    Args:
        scores (`np.ndarray`): one score per row (NaN for pre-filtered rows, which are left out).
        domains (`np.ndarray`, *optional*): one domain per row; without it one histogram for the pool.
        k (`int`, *optional*): draw the selection threshold of budget `k`.
        path (`str`, *optional*): write a PNG there (atomically); the figure is closed then.

    Returns:
        The matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    scores = np.asarray(scores, dtype=np.float64)
    names = np.asarray(domains).astype(str) if domains is not None else np.full(len(scores), "pool")
    ok = np.isfinite(scores)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins: Any = np.linspace(np.min(scores[ok]), np.max(scores[ok]), 60) if ok.any() else 10
    for name in sorted(set(names[ok].tolist())):
        mask = ok & (names == name)
        ax.hist(scores[mask], bins=bins, alpha=0.5, label=f"{name} ({int(mask.sum())})")
    if k is not None and ok.any() and k <= ok.sum():
        ax.axvline(np.sort(scores[ok])[k - 1], color="k", linestyle="--", label=f"k = {k}")
    ax.set_xlabel("gotd_score (lower = select first)")
    ax.set_ylabel("rows")
    ax.set_title("GOT-D scores by domain")
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        atomic_path(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
        plt.close(fig)
    return fig
