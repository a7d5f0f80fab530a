"""Trainer-building adapters: code that trains `transformers` models for a method (the DDO perturbation runs).

They sit above the methods (`docs/architecture.md`): a method never builds a `Trainer` itself.
"""

from .ddo_runner import DDORunner, train_on_mixture

__all__ = ["DDORunner", "train_on_mixture"]
