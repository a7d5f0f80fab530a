"""A local Hub for the examples: olah (read side) + the loopback write gateway, on free loopback ports.

The servers are test infrastructure and live in `tests/hub/` (`local_hub.py`, `loopback_gateway.py`, standard
library only); this shim loads them by path so `examples/demo.py` can use them from a source checkout without the
library shipping a fake Hub. Pushes go to `hub.endpoint` (the gateway), reads to `hub.read_endpoint` (olah); both
serve the same git repositories. `HF_ENDPOINT` is read when the HF libraries are imported, so run the Hub part in a
subprocess with `hub.env(...)` (or set the variables before importing `datasets`).

Usage:

```python
import subprocess, sys
from local_hub import start_local_hub

endpoint, stop = start_local_hub("outputs/demo/hub")
hub = stop.hub  # the LocalHub, for hub.env(write=True) (push) and hub.env() (load)
subprocess.run([sys.executable, "-m", "hf_datavalue.cli", "push", "outputs/demo/lava", "--repo", "local/digits-values",
                "--config", "lava"], env=hub.env(write=True), check=True)
subprocess.run([sys.executable, "-m", "hf_datavalue.cli", "pull", "local/digits-values", "--config", "lava",
                "--out", "outputs/demo/pulled"], env=hub.env(), check=True)
stop()
```
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PATH = Path(__file__).resolve().parents[1] / "tests" / "hub" / "local_hub.py"
_spec = importlib.util.spec_from_file_location("_hf_datavalue_local_hub", _PATH)
if _spec is None or _spec.loader is None:  # pragma: no cover - a checkout without tests/
    raise ImportError(f"the local Hub helpers are not at {_PATH}; run the examples from a source checkout")
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)

LocalHub = _module.LocalHub
hub_env = _module.hub_env

__all__ = ["LocalHub", "hub_env", "start_local_hub"]


class _Stop:
    """Callable that stops the servers; `.hub` is the running `LocalHub`."""

    def __init__(self, hub: Any):
        self.hub = hub

    def __call__(self) -> None:
        self.hub.stop()


def start_local_hub(root: str | os.PathLike[str], timeout: float = 30.0) -> tuple[str, Callable[[], None]]:
    """Start olah + the write gateway under `root`; returns `(write_endpoint, stop)` with `stop.hub` the LocalHub."""
    hub = _module.start_local_hub(root, timeout=timeout)
    return hub.endpoint, _Stop(hub)
