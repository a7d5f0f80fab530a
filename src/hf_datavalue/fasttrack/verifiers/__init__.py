"""Verifier back-ends of FastTrack: oracle, cross-encoder, local causal LM, OpenAI-compatible endpoint."""

from .base import VERIFIER_SPECS, Verifier, VerifierStats, build_verifier
from .prompts import parse_answer, parse_keywords, verification_prompt

__all__ = [
    "VERIFIER_SPECS",
    "Verifier",
    "VerifierStats",
    "build_verifier",
    "parse_answer",
    "parse_keywords",
    "verification_prompt",
]
