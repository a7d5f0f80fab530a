"""Dataset card tooling: render the values section, merge the `hf_datavalue:` block, draw the histogram.

The card is a plain [`~huggingface_hub.DatasetCard`]: the metadata block lives under the top-level YAML key
`hf_datavalue`, one entry per values config (never inside a `configs` entry, which `datasets` would drop), and the
README gets one section per config between `<!-- hf_datavalue:<config>:start/end -->` markers, rendered from
`hub_cards/templates/values_section.md`.

Usage:

```python
from hf_datavalue.hub_cards.card import card_metadata, update_card

card = update_card(None, block, repo_id="me/sst2-values")   # a new DatasetCard with the block and section
assert card_metadata(card)["lava"] == block
```
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import Any

import numpy as np

from ..core.errors import ValueTableError
from .metadata import METADATA_KEY, validate_metadata

logger = logging.getLogger(__name__)

__all__ = ["card_metadata", "histogram_png", "render_section", "update_card", "validate_card"]


def method_note(method: str, score_semantics: str) -> tuple[str, str]:
    """`(title, meaning)` of a method on a card, from its registered [`MethodSpec`] (the semantics otherwise)."""
    from ..core.registry import METHODS

    spec = METHODS.get(method)
    return (spec.card_title, spec.card_note) if spec is not None else (method, score_semantics)


_SECTION_RE = r"<!-- hf_datavalue:{config}:start -->.*?<!-- hf_datavalue:{config}:end -->\n?"


def _template() -> Template:
    text = resources.files("hf_datavalue.hub_cards").joinpath("templates/values_section.md").read_text("utf-8")
    return Template(text)


def render_section(block: Mapping[str, Any], repo_id: str) -> str:
    """The README section of one values config, rendered from the package template.

    Args:
        block (`dict`): a validated metadata block (see [`~hf_datavalue.hub_cards.metadata.build_metadata`]).
        repo_id (`str`): the values repo, for the loading snippets.
    """
    block = validate_metadata(block)
    title, meaning = method_note(block["method"], block["score_semantics"])
    if block.get("source_repo"):
        source = f"[`{block['source_repo']}`](https://huggingface.co/datasets/{block['source_repo']})"
        parts = [
            f"config `{block['source_config']}`" if block.get("source_config") else None,
            f"split `{block['source_split']}`" if block.get("source_split") else None,
            f"revision `{block['source_revision']}`" if block.get("source_revision") else None,
        ]
        detail = ", ".join(p for p in parts if p)
        source_desc = f"{source} ({detail})" if detail else source
    else:
        source_desc = "the source split it was computed on (not on the Hub)"
    validation = block.get("validation") or {}
    validation_desc = (
        ", ".join(f"{k}: `{v}`" for k, v in sorted(validation.items())) if validation else "none recorded"
    )
    return _template().safe_substitute(
        config=block["config"],
        method=block["method"],
        method_title=title,
        meaning=meaning[0].upper() + meaning[1:] + ".",
        score_column=block["score_column"],
        score_semantics=block["score_semantics"],
        score_dtype=block["columns"][block["score_column"]],
        n_rows=block["n_rows"],
        source_desc=source_desc,
        row_key=block["row_key"],
        validation=validation_desc,
        params=json.dumps(block["params"], sort_keys=True),
        library_version=block["library_version"],
        created_at=block["created_at"],
        repo_id=repo_id,
    )


def card_metadata(card: Any) -> dict[str, Any]:
    """The `hf_datavalue` mapping (config -> block) of a [`~huggingface_hub.DatasetCard`] (empty if none)."""
    value = card.data.get(METADATA_KEY) or {}
    if not isinstance(value, dict):
        raise ValueTableError(f"card key {METADATA_KEY!r} must be a mapping of config -> block")
    return value


def update_card(card_text: str | None, block: Mapping[str, Any], repo_id: str) -> Any:
    """Merge one config's block and README section into a card (a new card when `card_text` is `None`).

    Other configs' blocks and sections, the `configs`/`dataset_info` entries written by `datasets` and any text
    written by people are kept. Tags get `data-valuation` and the method; `source_datasets` gets the source repo.
    """
    from huggingface_hub import DatasetCard

    block = validate_metadata(block)
    config = block["config"]
    card = DatasetCard(card_text) if card_text else DatasetCard("---\n---\n")
    data = card.data
    entries = dict(card_metadata(card))
    entries[config] = dict(block)
    data[METADATA_KEY] = {k: entries[k] for k in sorted(entries)}
    tags = list(data.get("tags") or [])
    for tag in ("data-valuation", block["method"]):
        if tag not in tags:
            tags.append(tag)
    data["tags"] = tags
    if block.get("source_repo"):
        sources = list(data.get("source_datasets") or [])
        if block["source_repo"] not in sources:
            sources.append(block["source_repo"])
        data["source_datasets"] = sources
    section = render_section(block, repo_id)
    pattern = re.compile(_SECTION_RE.format(config=re.escape(config)), re.DOTALL)
    text = card.text or ""
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        if not text.strip():
            text = f"\n# {repo_id.split('/')[-1]}\n\nData values for the rows of a source dataset.\n"
        text = text.rstrip("\n") + "\n\n" + section
    card.text = text
    return card


def validate_card(card: Any) -> dict[str, dict[str, Any]]:
    """Check every block of a card and that each has its README section; returns config -> block.

    Raises:
        [`ValueTableError`]: a block is malformed, stored under the wrong config, or lacks its section, or a
            `configs` entry carries provenance keys (which `datasets` would silently drop).
    """
    blocks = card_metadata(card)
    for config, block in blocks.items():
        validate_metadata(block, config=config)
        if f"<!-- hf_datavalue:{config}:start -->" not in (card.text or ""):
            raise ValueTableError(f"card has a metadata block for {config!r} but no README section")
    for entry in card.data.get("configs") or []:
        extra = set(entry) - {"config_name", "data_files", "default", "data_dir", "features", "split"}
        if METADATA_KEY in entry or extra & {"method", "source_revision", "params", "n_rows"}:
            raise ValueTableError(f"configs entry {entry.get('config_name')!r} carries provenance keys")
    return blocks


def histogram_png(values: Any, title: str, bins: int = 40) -> bytes:
    """A small PNG histogram of `values` (matplotlib, Agg backend, no global state left behind)."""
    from matplotlib.figure import Figure

    array = np.asarray(values, dtype=np.float64)
    fig = Figure(figsize=(5, 2.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.hist(array, bins=min(bins, max(len(array), 1)), color="#4C72B0")
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("rows", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
