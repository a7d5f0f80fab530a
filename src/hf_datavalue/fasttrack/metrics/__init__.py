"""The fact-tracing metrics as `evaluate` modules shipped inside the package (loadable offline).

Usage:

```python
import evaluate
from hf_datavalue.fasttrack.metrics import metric_path

set_f1 = evaluate.load(metric_path("fact_tracing_set"))
ranking = evaluate.load(metric_path("fact_tracing_ranking"))
```
"""

from __future__ import annotations

from pathlib import Path

from ...core.errors import ConfigError

__all__ = ["METRICS", "load_metric", "metric_path"]

METRICS = ("fact_tracing_set", "fact_tracing_ranking")


def metric_path(name: str) -> str:
    """Local path of a shipped metric module, for `evaluate.load(path)`."""
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; shipped metrics: {list(METRICS)}")
    return str(Path(__file__).resolve().parent / name / f"{name}.py")


def load_metric(name: str) -> object:
    """`evaluate.load` of a shipped metric (no network)."""
    import evaluate

    return evaluate.load(metric_path(name))
