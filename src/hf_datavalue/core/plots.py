"""Shared plots (matplotlib with the Agg backend, imported lazily): mixture weight bars, and [`save_figure`], the
atomic figure writer every plot goes through.

Usage:

```python
from hf_datavalue.core.plots import plot_weights

plot_weights({"DDO 0.3B": w_small, "AutoScale 10B": w_big}, path="weights.png")
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .io import atomic_path

__all__ = ["plot_weights", "save_figure"]


def save_figure(fig: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write a matplotlib figure atomically (a killed write never leaves a half image at `path`).

    The format comes from the suffix of `path` (`png` when it has none); `kwargs` go to `fig.savefig`.
    """
    fmt = kwargs.pop("format", None) or (Path(path).suffix.lstrip(".").lower() or "png")
    return atomic_path(path, lambda tmp: fig.savefig(tmp, format=fmt, **kwargs))


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_weights(
    mixtures: Mapping[str, Any], path: str | os.PathLike[str] | None = None, title: str | None = None
) -> Any:
    """Grouped bar chart of one or more [`MixtureWeights`] over the domains of the first one.

    Args:
        mixtures (`dict[str, MixtureWeights]`): label -> weights.
        path (`str`, *optional*): write a PNG there.
        title (`str`, *optional*): figure title.

    Returns:
        The matplotlib figure.
    """
    plt = _plt()
    labels = list(mixtures)
    domains = next(iter(mixtures.values())).domains
    width = 0.8 / max(1, len(labels))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(domains) + 2), 3.5))
    for k, label in enumerate(labels):
        vals = mixtures[label].as_list(domains)
        xs = [i + (k - (len(labels) - 1) / 2) * width for i in range(len(domains))]
        ax.bar(xs, vals, width=width, label=label)
    ax.set_xticks(range(len(domains)))
    ax.set_xticklabels(domains, rotation=30, ha="right")
    unit = next(iter(mixtures.values())).unit
    ax.set_ylabel(f"weight ({unit})")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=120)
    plt.close(fig)
    return fig
