"""Text-length normalisation of GOT-D (specs/gotd.md §3.1): chunking long documents, concatenating short ones."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.rows import hash_values

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


hash_texts = hash_values  # the library's one content hash (core.rows)
