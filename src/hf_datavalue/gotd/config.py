"""Configuration of GOT-D pre-fine-tuning data selection (specs/gotd.md §3-4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.config import EmbedderArguments, JsonConfig, OTArguments
from ..core.errors import ConfigError

__all__ = ["GotdConfig"]


@dataclass
class GotdConfig(OTArguments, EmbedderArguments, JsonConfig):
    """Settings of a [`GotdSelector`]. Round-trips through [`to_dict`] / [`from_dict`] and JSON.

    Args:
        k (`int`, *optional*): how many pool rows to select; can also be given to `select`/`fit`.
        text_column (`str`, *optional*, defaults to `"text"`): the text column of pool and target.
        embedding_column (`str`, *optional*): use this precomputed embedding column instead of embedding.
        id_column (`str`, *optional*): the stable row-id column of the pool; defaults to `"row_idx"` when the
            pool has one, else the position in the fitted pool (then only that exact dataset can be filtered).
        domain_column (`str`, *optional*): a domain column, for the pre-filter and the score-by-domain plot.
        embedder (`str`, *optional*, defaults to `"sentence-transformers/all-MiniLM-L6-v2"`): model path or id
            (see [`~hf_datavalue.core.embeddings.get_embedder`]).
        pooling (`str`, *optional*, defaults to `"mean"`): masked mean; `faithful=True` uses the reference's
            unmasked mean over padded positions.
        max_length (`int`, *optional*, defaults to 256): tokenizer truncation length.
        embed_batch_size (`int`, *optional*, defaults to 64): rows per forward pass.
        normalize (`bool`, *optional*, defaults to `True`): L2-normalise the embeddings, as the
            sentence-transformers pipeline of all-MiniLM-L6-v2 does. Unnormalised mean-pooled MiniLM vectors put
            most of the squared-Euclidean cost on the vector norm (text length), not on the topic.
        faithful (`bool`, *optional*, defaults to `False`): reference pooling (unmasked mean, padding to
            `max_length`). See [`faithful_preset`] for the whole reference setting.
        chunk_size (`int`, *optional*): split pool documents into pieces of this many characters (1,000 in the
            paper's NLU setting, 500 for detox). Rows are then scored per chunk.
        min_chunk_chars (`int`, *optional*, defaults to 1): drop chunks (and documents) shorter than this.
        chunk_aggregate (`str`, *optional*, defaults to `"mean"`): how a document's score is made from its
            chunks' scores when filtering documents (`"mean"`: moving mass uniformly onto its chunks).
        target_concat (`bool`, *optional*, defaults to `False`): concatenate short target texts up to
            `chunk_size` characters (and split long ones), as the reference does for CoLA.
        eps (`float`, *optional*, defaults to 0.02): entropic regularisation.
        eps_mode (`str`, *optional*, defaults to `"relative"`): `"relative"` uses `eps * median(cost)`,
            `"absolute"` takes `eps` as is (the reference: 0.1 absolute).
        tol (`float`, *optional*, defaults to 1e-3): Sinkhorn stops when the L1 marginal error of the target
            side is below it (the pool side is exact after each half-step).
        max_iter (`int`, *optional*, defaults to 2000): Sinkhorn iterations at the final epsilon.
        momentum (`float`, *optional*, defaults to 1.0): Sinkhorn over-relaxation in [1, 2) (the reference runs
            ott-jax with 1.3); the solver falls back to 1 if it oscillates.
        mode (`str`, *optional*, defaults to `"auto"`): `"dense"`, `"online"` (never holds the cost
            matrix) or `"auto"`.
        dtype (`str`, *optional*, defaults to `"auto"`): `"float64"`, `"float32"`, or `"auto"` (float64 up to
            5e7 cost entries, float32 above).
        block_size (`int`, *optional*): target rows per cost block in the solver.
        shard_size (`int`, *optional*, defaults to 10000): pool rows per embedding/scoring shard (the unit
            of resumption).
        prefilter_keep_domains (`int`, *optional*): keep only this many domains closest to the target in OT
            distance (needs `domain_column`).
        prefilter_probe_size (`int`, *optional*, defaults to 10000): rows sampled per domain for the pre-filter.
        prefilter_eps (`float`, *optional*, defaults to 0.5): absolute epsilon of the pre-filter OT.
        seed (`int`, *optional*, defaults to 0): seeds probe sampling and relative-epsilon cost sampling.
        device (`str`, *optional*, defaults to `"cpu"`): where the OT arithmetic runs (`"cuda"`, or `"auto"`: this
            process's GPU when CUDA is visible, else the CPU).
        progress (`bool`, *optional*, defaults to `True`): progress bars.
    """

    method = "gotd"

    k: int | None = field(default=None, metadata={"help": "Number of pool rows to select."})
    text_column: str = field(default="text", metadata={"help": "Text column of pool and target."})
    embedding_column: str | None = field(
        default=None, metadata={"help": "Precomputed embedding column to use instead of embedding the text."}
    )
    id_column: str | None = field(
        default=None, metadata={"help": "Stable row-id column of the pool (default: row_idx if present)."}
    )
    domain_column: str | None = field(default=None, metadata={"help": "Domain column (pre-filter, plots)."})
    embedder: str = field(
        default="sentence-transformers/all-MiniLM-L6-v2", metadata={"help": "Embedding model path or Hub id."}
    )
    normalize: bool = field(
        default=True,
        metadata={
            "help": "L2-normalise embeddings (as sentence-transformers' all-MiniLM-L6-v2 does); off when faithful."
        },
    )
    faithful: bool = field(
        default=False, metadata={"help": "Reference pooling: unmasked mean over positions padded to max_length."}
    )
    chunk_size: int | None = field(default=None, metadata={"help": "Split pool documents into chunks of N chars."})
    min_chunk_chars: int = field(default=1, metadata={"help": "Drop chunks shorter than this many characters."})
    chunk_aggregate: Literal["mean", "min"] = field(
        default="mean", metadata={"help": "Document score from its chunk scores when filtering documents."}
    )
    target_concat: bool = field(
        default=False, metadata={"help": "Concatenate short target texts up to chunk_size characters."}
    )
    eps: float = field(default=0.02, metadata={"help": "Entropic regularisation."})
    eps_mode: Literal["absolute", "relative"] = field(
        default="relative", metadata={"help": "'relative' = eps * median cost; 'absolute' = eps as is."}
    )
    tol: float = field(default=1e-3, metadata={"help": "Sinkhorn L1 marginal-error tolerance."})
    max_iter: int = field(default=2000, metadata={"help": "Sinkhorn iterations at the final epsilon."})
    dtype: Literal["auto", "float32", "float64"] = field(default="auto", metadata={"help": "OT arithmetic dtype."})  # type: ignore[assignment]
    shard_size: int = field(default=10_000, metadata={"help": "Pool rows per embedding/scoring shard."})
    prefilter_keep_domains: int | None = field(
        default=None, metadata={"help": "Keep the N domains closest to the target (needs domain_column)."}
    )
    prefilter_probe_size: int = field(default=10_000, metadata={"help": "Rows sampled per domain (pre-filter)."})
    prefilter_eps: float = field(default=0.5, metadata={"help": "Absolute epsilon of the pre-filter OT."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k is not None and (not isinstance(self.k, int) or self.k <= 0):
            raise ConfigError(f"k must be a positive integer, got {self.k!r}")
        self.check_ot_arguments(dtypes=("auto", "float32", "float64"))
        if self.chunk_aggregate not in ("mean", "min"):
            raise ConfigError(f"chunk_aggregate must be 'mean' or 'min', got {self.chunk_aggregate!r}")
        if self.chunk_size is not None and self.chunk_size <= 0:
            raise ConfigError(f"chunk_size must be positive, got {self.chunk_size}")
        if self.target_concat and self.chunk_size is None:
            raise ConfigError("target_concat needs chunk_size (the length to concatenate target texts up to)")
        if self.shard_size <= 0:
            raise ConfigError(f"shard_size must be positive, got {self.shard_size}")
        if self.prefilter_keep_domains is not None:
            if self.prefilter_keep_domains <= 0:
                raise ConfigError(f"prefilter_keep_domains must be positive, got {self.prefilter_keep_domains}")
            if self.domain_column is None:
                raise ConfigError("prefilter_keep_domains needs domain_column")

    @classmethod
    def faithful_preset(cls, **overrides: Any) -> GotdConfig:
        """The reference setting: 1,000-character chunks, unmasked mean pooling over 295 padded positions,
        epsilon 0.1 absolute (use it with a target-fine-tuned DistilBERT as `embedder`)."""
        values: dict[str, Any] = {
            "faithful": True,
            "pooling": "unmasked_mean",
            "normalize": False,
            "max_length": 295,
            "chunk_size": 1000,
            "eps": 0.1,
            "eps_mode": "absolute",
        }
        values.update(overrides)
        return cls(**values)
