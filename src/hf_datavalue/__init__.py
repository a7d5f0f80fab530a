"""hf_datavalue: data valuation and data selection methods as drop-in HuggingFace pieces."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
