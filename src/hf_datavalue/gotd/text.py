"""Text-length normalisation of GOT-D (specs/gotd.md §3.1): chunking long documents, concatenating short ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

__all__ = ["chunk_text", "concat_texts", "hash_texts"]


def chunk_text(text: str, size: int | None, min_chars: int = 1) -> list[str]:
    """Split `text` into consecutive pieces of `size` characters (the last one may be shorter).

    Pieces shorter than `min_chars` are dropped. With `size=None` the text is one piece.

    Usage:

    ```python
    >>> chunk_text("abcdefg", 3)
    ['abc', 'def', 'g']
    ```
    """
    text = "" if text is None else str(text)
    pieces = [text] if size is None else [text[i : i + size] for i in range(0, max(len(text), 1), size)]
    return [p for p in pieces if len(p) >= min_chars]


def concat_texts(texts: Iterable[str], size: int) -> list[str]:
    """Concatenate short texts (joined by a space) until each piece reaches `size` characters; long texts are
    split. The reference does this for short target texts (CoLA sentences, reviews)."""
    out: list[str] = []
    buf = ""
    for text in texts:
        text = str(text).strip()
        if not text:
            continue
        buf = f"{buf} {text}" if buf else text
        while len(buf) >= size:
            out.append(buf[:size])
            buf = buf[size:].lstrip()
    if buf:
        out.append(buf)
    return out


def hash_texts(values: Iterable[object]) -> np.ndarray:
    """A 64-bit blake2b hash per value (texts as UTF-8; arrays by their float32 bytes), as int64."""
    digests = []
    for v in values:
        if isinstance(v, str):
            data = v.encode("utf-8")
        elif v is None:
            data = b"\x00none"
        else:
            data = np.asarray(v, dtype=np.float32).tobytes()
        digests.append(hashlib.blake2b(data, digest_size=8).digest())
    if not digests:
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(b"".join(digests), dtype="<i8").astype(np.int64)
