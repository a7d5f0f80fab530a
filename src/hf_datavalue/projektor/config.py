"""Configuration of Projektor (OT-based performance prediction and source selection, `specs/projektor.md`)."""

from __future__ import annotations

import warnings
from dataclasses import InitVar, dataclass, field
from typing import Any, Literal

from ..core.config import JsonConfig, OTArguments
from ..core.errors import ConfigError

__all__ = ["TARGETS", "ProjektorConfig"]

TARGETS = ("accuracy", "loss", "log_loss")


@dataclass
class ProjektorConfig(OTArguments, JsonConfig):
    """Arguments of [`MixtureOT`], [`ProjektorPredictor`] and [`ProjektorSelector`].

    The OT block ([`~hf_datavalue.core.config.OTArguments`]) defaults to the reference's `eps = 1e-2`
    (`entreg = 1e-2` in otdd), not LAVA's 0.1 (spec pitfall 5).

    Args:
        eps (`float`, *optional*, defaults to 0.01): outer entropic regularisation (absolute, cost units).
        inner_eps (`float`, *optional*, defaults to 0.01): regularisation of the class-to-class inner OT.
        lambda_x (`float`, *optional*, defaults to 1.0): weight of the feature cost `½‖u − v‖²`.
        lambda_y (`float`, *optional*, defaults to 1.0): weight of the label cost `½·W(c, c')`.
        distance (`str`, *optional*, defaults to `"debiased"`): the predictor's OT feature, the debiased Sinkhorn
            divergence (faithful) or the plain entropic OT value. Gradients always use non-debiased potentials.
        mixture_mode (`str`, *optional*, defaults to `"resampled"`): how a mixture enters the OT (not the solver's
            `mode`): `"resampled"` draws `round(N·p_i)` points per
            source with replacement (the reference); `"mass"` puts the mixture weights as marginal masses on the
            union of pilot points (no resampling, deterministic). The old name `ot_mode` (keyword, JSON key, CLI
            `--ot-mode`) still loads, with a `FutureWarning`.
        gradient (`str`, *optional*, defaults to `"plain"`): the source gradient from the non-debiased potentials
            `f_αβ` (the reference, spec pitfall 6) or the gradient of the debiased divergence, `f_αβ − f_αα`
            (an extension: the selector then descends the same quantity the predictor reads).
        label_table (`str`, *optional*, defaults to `"pooled"`): `"pooled"` computes the class-to-class table
            once on the pooled pilot points (fast, independent of p); `"per_mixture"` recomputes it on each drawn
            mixture (the reference).
        reps (`int`, *optional*, defaults to 1): draws of `D(N, p)` per evaluation; the median value and the
            median gradient are used (reference: 1).
        design (`str`, *optional*, defaults to `"library"`): stage-1 design: `"library"` (`2 + 4(m−1)` columns,
            full rank) or `"notebook"` (the reference's 8-parameter design, m = 3 only).
        ridge (`float`, *optional*, defaults to 0.0): L2 penalty of the stage-1 fit on standardised columns
            (0: the reference's OLS; see `fit_stage1`).
        target (`str`, *optional*, defaults to `"accuracy"`): the modelled quantity (`"accuracy"`, `"loss"`,
            `"log_loss"`); decides the step direction (maximise accuracy, minimise the others).
        lr (`float`, *optional*, defaults to 5e-4): first step size `η_0` (reference 5e-4, unit-dependent).
        decay (`float`, *optional*, defaults to 0.9): step decay `η_t = lr·decay^t`.
        steps (`int`, *optional*, defaults to 100): projected-gradient iterations.
        normalized_steps (`bool`, *optional*, defaults to `False`): divide the centred gradient by its max-abs
            entry before the step (unit-free steps, as the spec's cheap check).
        eps (`float`), tol, max_iter, momentum, mode, block_size, dtype, device, seed: see `OTArguments`.
    """

    method = "projektor"

    eps: float = field(default=1e-2, metadata={"help": "Outer entropic regularisation (reference entreg 1e-2)."})
    inner_eps: float = field(default=1e-2, metadata={"help": "Entropic regularisation of the class-to-class OT."})
    lambda_x: float = field(default=1.0, metadata={"help": "Weight of the feature cost ½‖u − v‖²."})
    lambda_y: float = field(default=1.0, metadata={"help": "Weight of the label cost ½·W(c, c')."})
    distance: Literal["debiased", "plain"] = field(
        default="debiased", metadata={"help": "Predictor OT feature: debiased Sinkhorn divergence or plain OT."}
    )
    mixture_mode: Literal["resampled", "mass"] = field(
        default="resampled",
        metadata={"help": "How a mixture enters the OT: 'resampled' draws round(N·p_i) per source; 'mass' reweights."},
    )
    ot_mode: InitVar[str | None] = None  # deprecated alias of mixture_mode (not a field: never saved)
    gradient: Literal["plain", "debiased"] = field(
        default="plain",
        metadata={
            "help": "Source gradient from the non-debiased potentials (reference) or of the debiased divergence."
        },
    )
    label_table: Literal["pooled", "per_mixture"] = field(
        default="pooled", metadata={"help": "Class-to-class table on pooled pilots (once) or per drawn mixture."}
    )
    reps: int = field(default=1, metadata={"help": "Draws of D(N, p) per evaluation (median taken)."})
    design: Literal["library", "notebook"] = field(
        default="library", metadata={"help": "Stage-1 design: 'library' (full rank) or 'notebook' (reference)."}
    )
    ridge: float = field(
        default=0.0, metadata={"help": "Stage-1 L2 penalty on standardised columns (0: OLS, the reference)."}
    )
    target: Literal["accuracy", "loss", "log_loss"] = field(
        default="accuracy", metadata={"help": "Modelled performance quantity (decides the step direction)."}
    )
    lr: float = field(default=5e-4, metadata={"help": "First step size of the projected gradient."})
    decay: float = field(default=0.9, metadata={"help": "Step decay per iteration."})
    steps: int = field(default=100, metadata={"help": "Projected-gradient iterations."})
    normalized_steps: bool = field(
        default=False, metadata={"help": "Divide the centred gradient by its max-abs entry (unit-free steps)."}
    )

    def __post_init__(self, ot_mode: str | None = None) -> None:
        super().__post_init__()
        if ot_mode is not None:
            warnings.warn(
                "ProjektorConfig(ot_mode=...) is deprecated: use mixture_mode (ot_mode read like OTArguments.mode)",
                FutureWarning,
                stacklevel=3,
            )
            self.mixture_mode = ot_mode  # type: ignore[assignment]
        self.check_ot_arguments()
        if not self.inner_eps > 0:
            raise ConfigError(f"inner_eps must be positive, got {self.inner_eps}")
        if self.lambda_x < 0 or self.lambda_y < 0 or self.lambda_x + self.lambda_y == 0:
            raise ConfigError(
                f"lambda_x and lambda_y must be >= 0 and not both 0, got {self.lambda_x}, {self.lambda_y}"
            )
        if self.distance not in ("debiased", "plain"):
            raise ConfigError(f"distance must be 'debiased' or 'plain', got {self.distance!r}")
        if self.mixture_mode not in ("resampled", "mass"):
            raise ConfigError(f"mixture_mode must be 'resampled' or 'mass', got {self.mixture_mode!r}")
        if self.gradient not in ("plain", "debiased"):
            raise ConfigError(f"gradient must be 'plain' or 'debiased', got {self.gradient!r}")
        if self.gradient == "debiased" and self.distance != "debiased":
            raise ConfigError("gradient='debiased' needs distance='debiased' (it differentiates the divergence)")
        if self.label_table not in ("pooled", "per_mixture"):
            raise ConfigError(f"label_table must be 'pooled' or 'per_mixture', got {self.label_table!r}")
        if self.reps < 1:
            raise ConfigError(f"reps must be >= 1, got {self.reps}")
        if self.design not in ("library", "notebook"):
            raise ConfigError(f"design must be 'library' or 'notebook', got {self.design!r}")
        if not self.ridge >= 0:
            raise ConfigError(f"ridge must be >= 0 (0 = OLS), got {self.ridge}")
        if self.target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {self.target!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if not 0 < self.decay <= 1:
            raise ConfigError(f"decay must lie in (0, 1], got {self.decay}")
        if self.steps < 0:
            raise ConfigError(f"steps must be >= 0, got {self.steps}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjektorConfig:
        """Build from a dict; the deprecated key `ot_mode` is read as `mixture_mode` (with a `FutureWarning`)."""
        data = dict(data)
        if "ot_mode" in data:
            old = data.pop("ot_mode")
            if "mixture_mode" in data and data["mixture_mode"] != old:
                raise ConfigError(f"both mixture_mode={data['mixture_mode']!r} and its old name ot_mode={old!r}")
            warnings.warn("the ProjektorConfig key 'ot_mode' is deprecated: use 'mixture_mode'", FutureWarning, 2)
            data["mixture_mode"] = old
        return super().from_dict(data)

    @property
    def sign(self) -> float:
        """+1 when the target is maximised (accuracy), -1 when it is minimised (loss, log-loss)."""
        return 1.0 if self.target == "accuracy" else -1.0
