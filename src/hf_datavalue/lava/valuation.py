"""LAVA values: the calibrated gradient of a class-wise entropic OT distance to a clean validation set.

**Sign: higher `lava_value` = more harmful** (putting more mass on the row increases the distance to the
validation set: likely mislabelled, noisy or irrelevant). The values sum to zero; the lowest ones are the rows
that look most like the validation set.

Usage:

```python
from datasets import load_dataset
from hf_datavalue import LavaConfig, LavaValuer

train = load_dataset("imdb", split="train[:2000]")
valid = load_dataset("imdb", split="test[:500]")
valuer = LavaValuer(LavaConfig(text_column="text", label_column="label"), embedder="st:all-MiniLM-L6-v2")
result = valuer.compute(train, valid)
train = train.add_column("lava_value", result.values)  # or valuer.add_values(train, valid)
suspects = result.most_harmful(100)  # row_idx of the 100 most harmful rows
```
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.distributed import process_context, resolve_device, sharded_embedding_matrix
from ..core.embeddings import Embedder, embedding_matrix, get_embedder
from ..core.errors import ConfigError, EmptyDatasetError, MissingColumnError, OutputExistsError, ShapeMismatchError
from ..core.io import read_json, write_json_atomic, write_parquet_atomic
from ..core.labels import LabelEncoding, encode_labels
from ..core.ot import OTResult, calibrated_gradient, classwise_ot
from ..core.probe import LinearProbe
from ..core.provenance import ValueProvenance, row_key_fingerprint
from ..core.rows import ROW_KEY, row_keys
from .config import LavaConfig

__all__ = ["SCORE_COLUMN", "SCORE_SEMANTICS", "LavaResult", "LavaValuer", "compute_lava_values"]

logger = logging.getLogger(__name__)

SCORE_COLUMN = "lava_value"
SCORE_SEMANTICS = "higher = more harmful (likely mislabelled, noisy or irrelevant); values sum to zero"


@dataclass
class LavaResult:
    """LAVA values of one training set, aligned with its rows.

    Attributes:
        values (`np.ndarray`): float64 calibrated gradients, one per training row; higher = more harmful.
        row_idx (`np.ndarray`): int64 row keys (the train `row_idx` column if present, else positions).
        potentials (`np.ndarray`): the raw training-side dual potentials `f`.
        ot_distance (`float`): the class-wise OT value between train and validation.
        label_distances (`np.ndarray`): the class-to-class OT table `W` (`classes` x `classes`).
        classes (`list`): class keys indexing `label_distances`.
        ot (`dict`): solver diagnostics (eps, iterations, marginal error, converged).
        timings (`dict`): seconds per stage (features, label_distances, solve, values).
        provenance ([`ValueProvenance`]): what produced the values (goes to the Hub card and meta.json).
    """

    values: np.ndarray
    row_idx: np.ndarray
    potentials: np.ndarray
    ot_distance: float
    label_distances: np.ndarray
    classes: list[Any]
    ot: dict[str, Any]
    timings: dict[str, float]
    provenance: ValueProvenance
    config: LavaConfig = field(default_factory=LavaConfig)

    def to_dataset(self) -> Any:
        """A `datasets.Dataset` with `row_idx` (int64) and `lava_value` (float64)."""
        from datasets import Dataset, Features, Value

        features = Features({ROW_KEY: Value("int64"), SCORE_COLUMN: Value("float64")})
        return Dataset.from_dict({ROW_KEY: self.row_idx, SCORE_COLUMN: self.values}, features=features)

    def most_harmful(self, k: int) -> np.ndarray:
        """`row_idx` of the `k` rows with the highest values (ties broken by row order)."""
        if not 0 < k <= len(self.values):
            raise ConfigError(f"k must lie in [1, {len(self.values)}], got {k}")
        return self.row_idx[np.argsort(-self.values, kind="stable")[:k]]

    def harmful_mask(self, k: int) -> np.ndarray:
        """Boolean mask over the training rows, True for the `k` most harmful."""
        mask = np.zeros(len(self.values), dtype=bool)
        mask[np.argsort(-self.values, kind="stable")[:k]] = True
        return mask

    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write `values.parquet` (row_idx, lava_value; provenance in the schema metadata), `meta.json`,
        `config.json` and `state.json` (potentials, class table, diagnostics) into `output_dir`, atomically.

        Raises:
            OutputExistsError: `output_dir` already holds LAVA values and `overwrite=False`.
        """
        import pyarrow as pa

        out = Path(output_dir)
        if (out / "values.parquet").exists() and not overwrite:
            raise OutputExistsError(f"{out} already holds LAVA values; pick another folder or pass overwrite=True")
        table = pa.table(
            {ROW_KEY: pa.array(self.row_idx, pa.int64()), SCORE_COLUMN: pa.array(self.values, pa.float64())}
        )
        write_parquet_atomic(out / "values.parquet", table, metadata=self.provenance.to_dict())
        write_json_atomic(out / "meta.json", self.provenance.to_dict())
        self.config.save(out / "config.json")
        state = {
            "potentials": self.potentials.tolist(),
            "ot_distance": self.ot_distance,
            "label_distances": np.where(np.isfinite(self.label_distances), self.label_distances, -1.0).tolist(),
            "classes": [c.item() if isinstance(c, np.generic) else c for c in self.classes],
            "ot": self.ot,
            "timings": self.timings,
        }
        write_json_atomic(out / "state.json", state)
        return out

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> LavaResult:
        """Read a folder written by [`save`]."""
        out = Path(output_dir)
        row_idx, values, prov = cls.load_table(out)
        state = read_json(out / "state.json")
        table = np.asarray(state["label_distances"], dtype=np.float64)
        return cls(
            values=np.asarray(values, dtype=np.float64),
            row_idx=np.asarray(row_idx, dtype=np.int64),
            potentials=np.asarray(state["potentials"], dtype=np.float64),
            ot_distance=float(state["ot_distance"]),
            label_distances=np.where(table < 0, np.inf, table),
            classes=list(state["classes"]),
            ot=dict(state["ot"]),
            timings=dict(state["timings"]),
            provenance=prov,
            config=LavaConfig.load(out / "config.json"),
        )

    @staticmethod
    def load_table(output_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, ValueProvenance]:
        """Read `(row_idx, values, provenance)` written by [`save`]."""
        import pyarrow.parquet as pq

        out = Path(output_dir)
        table = pq.read_table(out / "values.parquet")
        prov = ValueProvenance.from_dict(read_json(out / "meta.json"))
        return table[ROW_KEY].to_numpy(), table[SCORE_COLUMN].to_numpy(), prov


class LavaValuer:
    """Computes LAVA values for a training set against a clean validation set.

    Args:
        config ([`LavaConfig`], *optional*): the method's arguments.
        embedder (`str` or [`~hf_datavalue.core.embeddings.Embedder`], *optional*): used when
            `config.text_column` is set; see [`~hf_datavalue.core.embeddings.get_embedder`]
            (`"st:<model>"`, `"pixels"`, an HF encoder path or id).
        progress (`bool`, *optional*, defaults to `True`): progress bars for embedding and OT.

    Usage:

    ```python
    valuer = LavaValuer(LavaConfig(embedding_column="embedding"))
    values = valuer.value(train, valid)  # Dataset(row_idx, lava_value)
    train = valuer.add_values(train, valid)  # train + lava_value column
    ```
    """

    def __init__(
        self, config: LavaConfig | None = None, embedder: str | Embedder | None = None, progress: bool = True
    ):
        self.config = config or LavaConfig()
        self.embedder = get_embedder(embedder) if embedder is not None else None
        self.progress = progress

    # ----------------------------------------------------------------------------------------- features
    def _features(self, train: Any, valid: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        cfg = self.config
        if cfg.embedding_column is not None:
            xt = embedding_matrix(train, cfg.embedding_column, "train dataset")
            xv = embedding_matrix(valid, cfg.embedding_column, "validation dataset")
            described: dict[str, Any] = {"embedding_column": cfg.embedding_column}
        elif cfg.text_column is not None:
            if self.embedder is None:
                raise ConfigError(f"text_column={cfg.text_column!r} needs an embedder (LavaValuer(embedder=...))")
            for ds, what in ((train, "train dataset"), (valid, "validation dataset")):
                if cfg.text_column not in ds.column_names:
                    raise MissingColumnError(what, cfg.text_column, ds.column_names)
            # under `accelerate launch` each process embeds a slice of the rows; all get the full matrices
            process_context().check_same("LAVA config", cfg.to_json())
            xt = sharded_embedding_matrix(
                train, cfg.text_column, self.embedder, progress=self.progress, what="train dataset"
            )
            xv = sharded_embedding_matrix(
                valid, cfg.text_column, self.embedder, progress=self.progress, what="validation dataset"
            )
            described = self.embedder.describe()
        else:
            raise ConfigError(
                "set config.embedding_column (precomputed embeddings) or config.text_column (+ embedder)"
            )
        if xt.shape[1] != xv.shape[1]:
            raise ShapeMismatchError(
                f"train features have width {xt.shape[1]} but validation features have width {xv.shape[1]}: "
                "embed both with the same model"
            )
        return xt, xv, described

    def compute(self, train: Any, valid: Any) -> LavaResult:
        """Value every row of `train` against `valid`; returns a [`LavaResult`]."""
        cfg = self.config
        for ds, what in ((train, "train dataset"), (valid, "validation dataset")):
            if len(ds) == 0:
                raise EmptyDatasetError(f"the {what} is empty")
        if len(train) < 2:
            raise EmptyDatasetError("LAVA needs at least two training rows")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        labels = encode_labels(train, valid, cfg.label_column, allow_missing_classes=cfg.allow_missing_classes)
        xt, xv, embedder_desc = self._features(train, valid)
        feature_desc: dict[str, Any] = {"kind": cfg.features, "input": embedder_desc}
        if cfg.features == "probe_logits":
            probe = LinearProbe(labels.n_classes, l2=cfg.probe_l2, seed=cfg.seed).fit(xv, labels.valid_ids)
            feature_desc["probe_valid_accuracy"] = probe.accuracy(xv, labels.valid_ids)
            xt, xv = probe.logits(xt), probe.logits(xv)
        timings["features"] = time.perf_counter() - t0
        result, table, diag = lava_ot(xt, xv, labels, replace(cfg, device=resolve_device(cfg.device)), self.progress)
        timings.update(diag)
        t1 = time.perf_counter()
        values = calibrated_gradient(result.f)
        timings["values"] = time.perf_counter() - t1
        row_idx = row_keys(train, "train dataset")
        ot_info = {
            "eps": result.eps,
            "n_iter": result.n_iter,
            "marginal_error": result.marginal_error,
            "converged": result.converged,
        }
        provenance = ValueProvenance(
            method="lava",
            score_column=SCORE_COLUMN,
            score_semantics=SCORE_SEMANTICS,
            n_rows=len(values),
            row_fingerprint=row_key_fingerprint(row_idx),
            params=cfg.to_dict(),
            source_fingerprint=getattr(train, "_fingerprint", None),
            validation={"fingerprint": getattr(valid, "_fingerprint", None), "n_rows": len(valid)},
            embedder=feature_desc,
            extra={"ot_distance": result.value, "ot": ot_info, "classes": [str(c) for c in labels.classes]},
        )
        logger.info(
            "LAVA valued %d rows against %d: OT distance %.4g, %d Sinkhorn iterations (error %.2e)",
            len(values),
            len(valid),
            result.value,
            result.n_iter,
            result.marginal_error,
        )
        return LavaResult(
            values=values,
            row_idx=row_idx,
            potentials=result.f.double().cpu().numpy(),
            ot_distance=result.value,
            label_distances=table.double().cpu().numpy(),
            classes=list(labels.classes),
            ot=ot_info,
            timings=timings,
            provenance=provenance,
            config=cfg,
        )

    def value(self, train: Any, valid: Any) -> Any:
        """The values as a `Dataset` with `row_idx` and `lava_value`."""
        return self.compute(train, valid).to_dataset()

    def add_values(self, train: Any, valid: Any, column: str = SCORE_COLUMN) -> Any:
        """`train` with a `lava_value` column added (aligned by position)."""
        result = self.compute(train, valid)
        if column in train.column_names:
            train = train.remove_columns(column)
        return train.add_column(column, result.values.tolist())


def lava_ot(
    xt: np.ndarray, xv: np.ndarray, labels: LabelEncoding, cfg: LavaConfig, progress: bool = False
) -> tuple[OTResult, torch.Tensor, dict[str, float]]:
    """The OT part of LAVA on ready features: the core's class-wise OT with LAVA's settings."""
    solved = classwise_ot(
        xt,
        labels.train_ids,
        xv,
        labels.valid_ids,
        n_classes=labels.n_classes,
        lambda_x=cfg.lambda_x,
        lambda_y=cfg.lambda_y,
        inner_eps=cfg.inner_eps,
        inner_tol=cfg.inner_tol,
        max_dense_entries=cfg.max_dense_entries,
        dtype=cfg.dtype,
        device=cfg.device,
        progress=progress,
        **cfg.ot_kwargs(),
    )
    timings = dict(solved.timings)
    timings["cost"] = solved.result.timings.get("cost", 0.0)
    return solved.result, solved.label_distances, timings


def compute_lava_values(
    train: Any,
    valid: Any,
    config: LavaConfig | None = None,
    embedder: str | Embedder | None = None,
    progress: bool = True,
) -> LavaResult:
    """Functional form of [`LavaValuer.compute`]."""
    return LavaValuer(config, embedder=embedder, progress=progress).compute(train, valid)
