"""Configuration of the DAM simulator and evaluator (`specs/dam.md` §2, §4, §6)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.config import JsonConfig
from ..core.errors import ConfigError

__all__ = ["DamConfig"]


@dataclass
class DamConfig(JsonConfig):
    """Arguments of the DAM marketplace simulator and of its official scoring rule. Every field round-trips.

    Args:
        embedding_column (`str`, *optional*, defaults to `"embedding"`): the feature column (fixed-width floats).
        label_column (`str`, *optional*, defaults to `"label"`): class labels (int or `ClassLabel`).
        text_column (`str`, *optional*): a text column to embed (with `embedder`) when no feature column exists.
        embedder (`str`, *optional*): encoder path or id for `text_column` (see `core.embeddings.get_embedder`).
        n_marketplaces (`int`, *optional*, defaults to 5): marketplaces built per seed (DAM has 5).
        n_sellers (`int`, *optional*, defaults to 20): sellers per marketplace (DAM has 20).
        buyer_size (`int`, *optional*, defaults to 1000): rows of the buyer's evaluation set `Db` (fewer when the
            data is small: at most a quarter of the rows).
        min_seller_size (`int`, *optional*, defaults to 100): smallest seller; sizes are log-uniform.
        max_seller_size (`int`, *optional*, defaults to 1000): largest seller.
        label_alphas (`list[float]`, *optional*, defaults to `[0.1, 1.0, 10.0]`): each seller's class proportions
            come from a Dirichlet with a concentration drawn from this list (small = skewed).
        noisy_fraction (`float`, *optional*, defaults to 0.2): share of sellers with label noise.
        noise_rate (`float`, *optional*, defaults to 0.4): share of a noisy seller's labels replaced by another class.
        duplicate_fraction (`float`, *optional*, defaults to 0.1): share of sellers whose rows are copies of a few.
        duplicate_unique (`float`, *optional*, defaults to 0.1): share of distinct rows of a duplicating seller.
        offtask_fraction (`float`, *optional*, defaults to 0.1): share of sellers holding off-task rows.
        offtask_rate (`float`, *optional*, defaults to 0.5): share of an off-task seller's rows that are off-task.
        cost_scale (`float`, *optional*, defaults to 0.1): budget = `cost_scale * max_price` (the price of that
            share of one seller's data; DAM's analysis uses 0.01-0.2).
        max_price (`float`, *optional*, defaults to 100.0): price of a seller's whole dataset (linear pricing).
        preview_rows (`int`, *optional*, defaults to 5): sample rows revealed per seller.
        hist_bins (`int`, *optional*, defaults to 10): bins of the per-column summary histograms.
        trials (`int`, *optional*, defaults to 10): evaluation trials per marketplace.
        alpha (`float`, *optional*, defaults to 0.98): weight of accuracy in the score.
        seed (`int`, *optional*, defaults to 0): seeds the simulator; trial `t` of marketplace `k` draws with
            `numpy.random.default_rng([seed, k, t])`.
    """

    method = "dam"

    embedding_column: str = field(default="embedding", metadata={"help": "Feature column (float list)."})
    label_column: str = field(default="label", metadata={"help": "Class label column."})
    text_column: str | None = field(
        default=None, metadata={"help": "Text column to embed when there are no features."}
    )
    embedder: str | None = field(default=None, metadata={"help": "Encoder for text_column."})
    n_marketplaces: int = field(default=5, metadata={"help": "Marketplaces per seed."})
    n_sellers: int = field(default=20, metadata={"help": "Sellers per marketplace."})
    buyer_size: int = field(default=1000, metadata={"help": "Rows of the buyer's evaluation set."})
    min_seller_size: int = field(default=100, metadata={"help": "Smallest seller (log-uniform sizes)."})
    max_seller_size: int = field(default=1000, metadata={"help": "Largest seller (log-uniform sizes)."})
    label_alphas: list[float] = field(
        default_factory=lambda: [0.1, 1.0, 10.0], metadata={"help": "Dirichlet concentrations of seller label mixes."}
    )
    noisy_fraction: float = field(default=0.2, metadata={"help": "Share of sellers with label noise."})
    noise_rate: float = field(default=0.4, metadata={"help": "Label-noise rate of a noisy seller."})
    duplicate_fraction: float = field(default=0.1, metadata={"help": "Share of sellers selling duplicates."})
    duplicate_unique: float = field(default=0.1, metadata={"help": "Distinct-row share of a duplicating seller."})
    offtask_fraction: float = field(default=0.1, metadata={"help": "Share of sellers with off-task rows."})
    offtask_rate: float = field(default=0.5, metadata={"help": "Off-task share of such a seller's rows."})
    cost_scale: float = field(default=0.1, metadata={"help": "Budget as a share of one seller's price."})
    max_price: float = field(default=100.0, metadata={"help": "Price of one seller's whole dataset."})
    preview_rows: int = field(default=5, metadata={"help": "Sample rows revealed per seller."})
    hist_bins: int = field(default=10, metadata={"help": "Bins of the summary histograms."})
    trials: int = field(default=10, metadata={"help": "Evaluation trials per marketplace."})
    alpha: float = field(default=0.98, metadata={"help": "Weight of accuracy in the score."})
    seed: int = field(default=0, metadata={"help": "Seed of the simulator and of the evaluation draws."})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_marketplaces", "n_sellers", "buyer_size", "min_seller_size", "trials", "preview_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hist_bins < 2:
            raise ConfigError(f"hist_bins must be >= 2, got {self.hist_bins}")
        if self.max_seller_size < self.min_seller_size:
            raise ConfigError(
                f"max_seller_size ({self.max_seller_size}) must be >= min_seller_size ({self.min_seller_size})"
            )
        if self.min_seller_size < self.preview_rows:
            raise ConfigError(f"min_seller_size must be >= preview_rows ({self.preview_rows})")
        if not self.label_alphas or any(not a > 0 for a in self.label_alphas):
            raise ConfigError(f"label_alphas must be a non-empty list of positive numbers, got {self.label_alphas}")
        for name in ("noisy_fraction", "noise_rate", "duplicate_fraction", "duplicate_unique", "offtask_fraction",
                     "offtask_rate"):  # fmt: skip
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.noisy_fraction + self.duplicate_fraction + self.offtask_fraction > 1.0:
            raise ConfigError("noisy_fraction + duplicate_fraction + offtask_fraction must not exceed 1")
        if not self.cost_scale > 0:
            raise ConfigError(f"cost_scale must be positive, got {self.cost_scale}")
        if not self.max_price > 0:
            raise ConfigError(f"max_price must be positive, got {self.max_price}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha must lie in [0, 1], got {self.alpha}")

    @property
    def budget(self) -> float:
        """The simulator's budget, `cost_scale * max_price`."""
        return self.cost_scale * self.max_price
