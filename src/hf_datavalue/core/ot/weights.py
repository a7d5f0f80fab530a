"""Marginal weights of an OT problem: uniform by default, checked and normalised otherwise."""

from __future__ import annotations

import torch

from ..errors import ConfigError, ShapeMismatchError
from .costs import ArrayLike, _as_tensor

__all__ = ["uniform_or"]


def uniform_or(weights: ArrayLike | None, n: int, dtype: torch.dtype, device: torch.device, what: str) -> torch.Tensor:
    if weights is None:
        return torch.full((n,), 1.0 / n, dtype=dtype, device=device)
    w = _as_tensor(weights, dtype, device, what)
    if w.shape != (n,):
        raise ShapeMismatchError(f"{what} has shape {tuple(w.shape)}, expected ({n},)")
    if (w < 0).any() or float(w.sum()) <= 0:
        raise ConfigError(f"{what} must be non-negative with a positive sum")
    return w / w.sum()
