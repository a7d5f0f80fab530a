"""Configuration of LAVA."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.config import JsonConfig, OTArguments
from ..core.errors import ConfigError

__all__ = ["LavaConfig"]

FeatureKind = Literal["probe_logits", "embeddings", "model_logits"]


@dataclass
class LavaConfig(OTArguments, JsonConfig):
    """Arguments of LAVA (`specs/lava.md`). Every field round-trips through JSON.

    Args:
        label_column (`str`, *optional*, defaults to `"label"`): class labels (int, str or `ClassLabel`).
        text_column (`str`, *optional*): text or image column to embed when no `embedding_column` is given.
        embedding_column (`str`, *optional*): an existing embedding (or logits) column to use instead.
        features (`str`, *optional*, defaults to `"probe_logits"`): what the OT cost sees.
            `"probe_logits"` fits a linear probe on the validation embeddings and uses its logits on both sides
            (best measured detection, see docs/benchmarks.md); `"embeddings"` uses the embeddings as they are;
            `"model_logits"` marks that the embedder/feature column already yields a classifier's logits
            (the reference implementation's setting).
        probe_l2 (`float`, *optional*, defaults to 1.0): L2 penalty of the probe (chosen with `lambda_y` and `eps`
            by `benchmarks/lava/sweep.py` on split A of SST-2, AG News and CIFAR-10, reported on split B; see
            docs/lava.md). Strong regularisation also keeps logits, costs and iterations small.
        eps (`float`, *optional*, defaults to 0.1): entropic regularisation of the outer OT problem.
        eps_mode (`str`, *optional*, defaults to `"absolute"`): `"relative"` means `eps * median(cost)`.
        inner_eps (`float`, *optional*, defaults to 0.1): regularisation of the class-to-class OT problems.
        inner_tol (`float`, *optional*, defaults to 1e-3): marginal tolerance of the class-to-class problems; only
            their values are used, and the dual value's error is second order in the marginal error.
        lambda_x (`float`, *optional*, defaults to 1.0): weight of the feature term `1/2 ||u - v||^2`.
        lambda_y (`float`, *optional*, defaults to 3.0): weight of the label term `1/2 W(y, y')` (the paper uses 1,
            see [`LavaConfig.faithful_preset`]; 3 was best on the sweep, 10 stalls at float32's precision floor).
        mode (`str`, *optional*, defaults to `"auto"`): OT back-end, `"dense"`, `"online"` or `"auto"`.
        max_dense_entries (`int`, *optional*, defaults to 500_000_000): auto mode goes online above this (2 GB in
            float32).
        block_size (`int`, *optional*): rows per cost block.
        dtype (`str`, *optional*, defaults to `"float32"`): `"float64"` for exact tests.
        tol (`float`, *optional*, defaults to 1e-4): stop when the L1 marginal error is below it.
        max_iter (`int`, *optional*, defaults to 3000): Sinkhorn iterations at the final epsilon.
        momentum (`float`, *optional*, defaults to 1.5): Sinkhorn over-relaxation in [1, 2).
        device (`str`, *optional*, defaults to `"cpu"`): where OT runs (`"cuda"` on a GPU).
        allow_missing_classes (`bool`, *optional*, defaults to `False`): value even when a class occurs on one
            side only (its rows are compared with the other classes through the label table).
        seed (`int`, *optional*, defaults to 0): seeds the probe and relative-epsilon sampling.
    """

    method = "lava"

    label_column: str = field(default="label", metadata={"help": "Class label column (int, str or ClassLabel)."})
    text_column: str | None = field(default=None, metadata={"help": "Text/image column to embed."})
    embedding_column: str | None = field(default=None, metadata={"help": "Existing embedding or logits column."})
    features: FeatureKind = field(
        default="probe_logits", metadata={"help": "probe_logits | embeddings | model_logits."}
    )
    probe_l2: float = field(default=1.0, metadata={"help": "L2 penalty of the validation-fitted linear probe."})
    inner_eps: float = field(default=0.1, metadata={"help": "Regularisation of the class-to-class OT problems."})
    inner_tol: float = field(
        default=1e-3,
        metadata={"help": "Marginal tolerance of the class-to-class problems (only their values matter)."},
    )
    lambda_x: float = field(default=1.0, metadata={"help": "Weight of the feature cost."})
    lambda_y: float = field(default=3.0, metadata={"help": "Weight of the label cost (paper: 1)."})
    max_dense_entries: int = field(default=500_000_000, metadata={"help": "Auto mode goes online above this."})
    momentum: float = field(default=1.5, metadata={"help": "Sinkhorn over-relaxation in [1, 2)."})
    allow_missing_classes: bool = field(default=False, metadata={"help": "Allow classes present on one side only."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.features not in ("probe_logits", "embeddings", "model_logits"):
            raise ConfigError(f"features must be probe_logits, embeddings or model_logits, got {self.features!r}")
        self.check_ot_arguments()
        if not self.inner_eps > 0:
            raise ConfigError(f"inner_eps must be positive, got {self.inner_eps}")
        if self.lambda_x < 0 or self.lambda_y < 0 or self.lambda_x + self.lambda_y == 0:
            raise ConfigError("lambda_x and lambda_y must be non-negative and not both zero")
        if self.text_column is not None and self.embedding_column is not None:
            raise ConfigError("give either text_column (to embed) or embedding_column (precomputed), not both")
        if not self.probe_l2 > 0:
            raise ConfigError(f"probe_l2 must be positive, got {self.probe_l2}")

    @classmethod
    def faithful_preset(cls, **overrides: Any) -> LavaConfig:
        """The paper's weights (spec §5, reference implementation): `lambda_x = lambda_y = 1`, outer and inner
        `eps = 0.1` absolute, and `features="model_logits"` (the reference's features are a classifier's logits,
        passed as `embedding_column` or produced by the embedder). `overrides` replace any field.

        Usage:

        ```python
        cfg = LavaConfig.faithful_preset(embedding_column="logits")
        ```
        """
        base: dict[str, Any] = {
            "features": "model_logits",
            "lambda_x": 1.0,
            "lambda_y": 1.0,
            "eps": 0.1,
            "eps_mode": "absolute",
            "inner_eps": 0.1,
        }
        return cls(**{**base, **overrides})
