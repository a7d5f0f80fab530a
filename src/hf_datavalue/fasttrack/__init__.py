"""FastTrack: fact tracing by recursive clustering, keyword retrieval and batched verification.

See `specs/fasttrack.md` and `docs/fasttrack.md`.
"""

from .verifiers import Verifier, VerifierStats, build_verifier

__all__ = ["Verifier", "VerifierStats", "build_verifier"]
