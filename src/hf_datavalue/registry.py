"""Compatibility home of the method registry; the contract lives in [`hf_datavalue.core.registry`]."""

from .core.registry import METHODS, MethodResult, MethodSpec, get_method, register_method

__all__ = ["METHODS", "MethodResult", "MethodSpec", "get_method", "register_method"]
