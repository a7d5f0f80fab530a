"""Per-example values on the Hugging Face Hub: push them as a dataset config, load them back verified, attach them.

One config per method (`lava`, `gotd`, `forward_inf`, ...) in a values repo, readable with plain
`datasets.load_dataset(repo_id, "<config>")`; the card carries a top-level `hf_datavalue:` block per config
(mirrored in `<config>/meta.json`) and a rendered README section with a histogram.

Usage:

```python
from hf_datavalue.hub_cards import attach_values, load_values, push_values

push_values(values, "me/sst2-values", "lava", provenance, source=train)      # values: row_idx + lava_value
train = attach_values(train, load_values("me/sst2-values", "lava"))         # verified join by row_idx
```
"""

from __future__ import annotations

from .card import render_section, update_card, validate_card
from .load import HubValues, attach_values, load_values
from .metadata import build_metadata, validate_metadata, validate_table
from .push import PushResult, push_values

__all__ = [
    "HubValues",
    "PushResult",
    "attach_values",
    "build_metadata",
    "load_values",
    "push_values",
    "render_section",
    "update_card",
    "validate_card",
    "validate_metadata",
    "validate_table",
]
