"""[`ProjektorResult`]: a selected mixture with its predictor, in the library's result contract.

One row per source (`row_idx`, `source`, `weight`, `examples`), keyed by `row_idx` like
[`~hf_datavalue.core.mixture.MixtureWeights`]: `to_dataset()` gives the table, `save()` writes parquet + `meta.json` + `config.json` atomically, `load()` reads
it back.

Usage:

```python
result = ProjektorResult(selection, config, predictor)
result.save("outputs/projektor/run1")
again = ProjektorResult.load("outputs/projektor/run1")
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ValueTableError
from ..core.io import prepare_output_dir, read_json, write_json_atomic, write_parquet_atomic
from ..core.mixture import MixtureWeights
from ..core.provenance import ValueProvenance, row_key_fingerprint
from ..core.rows import ROW_KEY
from .config import ProjektorConfig
from .predictor import ProjektorPredictor
from .selection import ProjektorSelection

__all__ = ["KEY_COLUMN", "SCORE_COLUMN", "SCORE_SEMANTICS", "ProjektorResult"]

KEY_COLUMN = ROW_KEY
SCORE_COLUMN = "weight"
SCORE_SEMANTICS = "share of the purchase drawn from each source (sums to one)"


class ProjektorResult:
    """A Projektor selection (weights, predicted performance, path) plus the fitted predictor, if any.

    Args:
        selection ([`ProjektorSelection`]): the selected mixture.
        config ([`ProjektorConfig`]): the settings used.
        predictor ([`ProjektorPredictor`], *optional*): the fitted stage-1/2 model (absent for OT-only selection).
    """

    def __init__(
        self, selection: ProjektorSelection, config: ProjektorConfig, predictor: ProjektorPredictor | None = None
    ):
        self.selection = selection
        self.config = config
        self.predictor = predictor

    @property
    def weights(self) -> MixtureWeights:
        return self.selection.weights

    @property
    def provenance(self) -> ValueProvenance:
        names = self.weights.domains
        return ValueProvenance(
            method="projektor",
            score_column=SCORE_COLUMN,
            score_semantics=SCORE_SEMANTICS,
            n_rows=len(names),
            row_fingerprint=row_key_fingerprint(np.arange(len(names))),
            row_key=KEY_COLUMN,
            params=self.config.to_dict(),
            extra={
                "size": self.selection.size,
                "predicted": self.selection.predicted,
                "target": None if self.predictor is None else self.predictor.target,
                "selector": "ot_only" if self.predictor is None else "predictor",
            },
        )

    def to_dataset(self) -> Any:
        """A `datasets.Dataset` with `row_idx`, `source`, `weight`, `examples` (the quota at the target size)."""
        import datasets

        names = self.weights.domains
        quotas = self.weights.to_quotas(self.selection.size) if self.selection.size > 0 else dict.fromkeys(names, 0)
        return datasets.Dataset.from_dict(
            {
                KEY_COLUMN: list(range(len(names))),
                "source": names,
                SCORE_COLUMN: [float(self.weights[n]) for n in names],
                "examples": [int(quotas[n]) for n in names],
            }
        )

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write `weights.parquet`, `weights.json`, `meta.json` (provenance, path, predictor) and `config.json`."""
        out = prepare_output_dir(output_dir, run_config=self.config.to_dict(), overwrite=overwrite)
        write_parquet_atomic(out / "weights.parquet", self.to_dataset().data.table, metadata=self.provenance.to_dict())
        self.weights.save(out / "weights.json")
        meta = {
            "provenance": self.provenance.to_dict(),
            "path": [p.tolist() for p in self.selection.path],
            "predicted_path": list(self.selection.predicted_path),
            "predictor": None if self.predictor is None else self.predictor.to_dict(),
        }
        write_json_atomic(out / "meta.json", meta)
        self.config.save(out / "config.json")
        return out

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> ProjektorResult:
        """Read a result written by [`save`]."""
        out = Path(output_dir)
        for name in ("weights.json", "meta.json", "config.json"):
            if not (out / name).is_file():
                raise ValueTableError(f"{out} has no {name}: not a saved ProjektorResult")
        weights = MixtureWeights.load(out / "weights.json")
        meta = read_json(out / "meta.json")
        config = ProjektorConfig.load(out / "config.json")
        extra = meta["provenance"].get("extra", {})
        selection = ProjektorSelection(
            weights=weights,
            predicted=float(extra.get("predicted", float("nan"))),
            path=[np.asarray(p) for p in meta.get("path", [])],
            predicted_path=list(meta.get("predicted_path", [])),
            size=int(extra.get("size", 0)),
        )
        predictor = None if meta.get("predictor") is None else ProjektorPredictor.from_dict(meta["predictor"])
        return cls(selection, config, predictor)
