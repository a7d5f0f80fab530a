"""Optional dependencies, checked where they are used (datatrove's `check_required_dependencies` pattern).

Usage:

```python
from hf_datavalue.core.deps import require

rapidfuzz = require("rapidfuzz", extra="fasttrack", feature="FastTrack keyword matching")
```
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["is_available", "require"]


def is_available(module: str) -> bool:
    """Whether `module` can be imported (without importing it twice when it can)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


def require(module: str, extra: str, feature: str, package: str | None = None) -> ModuleType:
    """Import `module`, or raise [`MissingDependencyError`] naming the extra that installs it.

    Args:
        module (`str`): the import name (`"rapidfuzz"`).
        extra (`str`): the `hf_datavalue[<extra>]` that provides it.
        feature (`str`): what needs it, for the message.
        package (`str`, *optional*): the PyPI name when it differs from `module`.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(package or module, extra, feature) from err
