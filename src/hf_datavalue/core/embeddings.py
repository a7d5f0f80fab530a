"""Embeddings: turn a `datasets` column into a float32 embedding column, once.

One path for every method. An [`Embedder`] maps a batch of column values (texts, images, arrays) to a
`(batch, dim)` float32 array; [`embed_dataset`] runs it with `Dataset.map(batched=True)` under a fingerprint
derived from the source fingerprint and the embedder, so a rerun on the same data is read from the cache.
[`embedding_matrix`] reads an embedding column back as a validated `(N, dim)` array.

Embedders:

* [`TransformersEmbedder`]: any HF encoder (local path or Hub id) through `AutoModel`, masked mean pooling
  (or CLS, or the reference's unmasked mean for faithful GOT-D).
* [`SentenceTransformerEmbedder`]: a sentence-transformers model (extra `st`).
* [`ImageEmbedder`]: an HF vision model with its image processor; [`PixelEmbedder`]: raw pixels.

Usage:

```python
from datasets import Dataset
from hf_datavalue.core.embeddings import TransformersEmbedder, embed_dataset, embedding_matrix

ds = Dataset.from_dict({"text": ["a cat", "a dog"]})
ds = embed_dataset(ds, "text", TransformersEmbedder("sentence-transformers/all-MiniLM-L6-v2"))
x = embedding_matrix(ds, "embedding")  # (2, 384) float32
```
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import (
    ConfigError,
    EmptyDatasetError,
    MissingColumnError,
    MissingDependencyError,
    NonFiniteError,
    ShapeMismatchError,
)

__all__ = [
    "Embedder",
    "ImageEmbedder",
    "PixelEmbedder",
    "SentenceTransformerEmbedder",
    "TransformersEmbedder",
    "check_model_ref",
    "default_device",
    "embed_dataset",
    "embedding_matrix",
    "get_embedder",
    "model_identity",
]

logger = logging.getLogger(__name__)


def default_device() -> str:
    """This process's GPU when one is visible (`cuda:<local rank>` under `accelerate launch`), else `"cpu"`."""
    from .distributed import resolve_device

    return resolve_device("auto")


_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# skipped when hashing a model folder: training leftovers that do not change the weights being loaded
_SKIP_DIRS = re.compile(r"^(\..*|checkpoint-\d+|runs|__pycache__)$")
# (path, size, mtime_ns, inode) -> content hash; a rewritten file gets a new stat, so a retrain is never missed
_FILE_HASHES: dict[tuple[str, int, int, int], str] = {}


def check_model_ref(ref: str, what: str = "model") -> str:
    """Check that `ref` is an existing local path or a well-formed Hub id (`org/name`); returns it.

    Raises:
        [`ConfigError`]: a local-looking path that does not exist, or a string that cannot be a Hub id, with what
            to fix (instead of the Hub client's "Repo id must use alphanumeric chars" for a mistyped folder).
    """
    ref = str(ref)
    if Path(ref).expanduser().exists():
        return ref
    if ref.startswith(("/", "./", "../", "~", "\\")) or (len(ref) > 1 and ref[1] == ":"):
        raise ConfigError(f"{what} folder {ref!r} does not exist; give an existing model folder or a Hub id")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(ref)
    except HFValidationError as err:
        raise ConfigError(
            f"{what} {ref!r} is neither an existing local folder nor a valid Hub id (org/name): check the path"
        ) from err
    return ref


def _file_hash(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    cached = _FILE_HASHES.get(key)
    if cached is None:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        cached = _FILE_HASHES[key] = digest.hexdigest()
    return cached


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _SKIP_DIRS.match(d))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            digest.update(f"{path.relative_to(folder).as_posix()}\0{_file_hash(path)}\n".encode())
    return "files-sha256:" + digest.hexdigest()[:32]


def _hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit sha `revision` of a Hub model resolves to (from the cache when offline); `None` if unknown."""
    if revision and _SHA_RE.match(revision):
        return revision
    from huggingface_hub import hf_hub_download

    for filename in ("config.json", "modules.json"):
        try:
            local = Path(hf_hub_download(repo_id, filename, revision=revision))
        except (OSError, ValueError) as err:  # offline without a cache, gated, no such file: try the next one
            logger.debug("could not resolve %s@%s via %s: %s", repo_id, revision, filename, err)
            continue
        snapshot = local.parent.name
        if _SHA_RE.match(snapshot):
            return snapshot
    return None


def model_identity(model_name_or_path: str, revision: str | None = None) -> str | None:
    """What identifies a model's weights, for cache keys and provenance.

    A local folder is keyed by a hash of its files' contents (weights, config, tokenizer; hidden folders and
    `checkpoint-*` folders skipped), so retraining a model in place gives a new key; each file's hash is memoised
    by its path, size, modification time and inode, so the weights are re-read only after they change. A Hub model
    is keyed by the commit sha its revision resolves to. Returns `None` when the revision cannot be resolved
    (offline without a cached copy): the caller must then not reuse cached results.
    """
    path = Path(model_name_or_path).expanduser()
    if path.is_dir():
        return _folder_digest(path)
    if path.is_file():
        return "file-sha256:" + _file_hash(path)[:32]
    return _hub_commit(str(model_name_or_path), revision)


class Embedder(ABC):
    """Maps a batch of column values to a `(batch, dim)` float32 array.

    Subclass it to plug in any model: implement [`embed`] and [`describe`] (a JSON-able dict that identifies
    the embedder; it keys the cache and goes into provenance).
    """

    @abstractmethod
    def embed(self, batch: list[Any]) -> np.ndarray:
        """Embed a batch of values; returns a float32 array with one row per value."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-able identity: model path or id, revision, pooling, max length..."""

    def cache_key(self) -> str:
        """A key for cached embeddings: a hash of [`describe`].

        When the description has a `"revision"` entry that is `None` (a model whose weights could not be
        identified), the key is unique per call, so embeddings of unidentified weights are never reused.
        """
        described = self.describe()
        if "revision" in described and described["revision"] is None:
            logger.warning("cannot identify the weights of %s: its embeddings are not cached", described.get("repo"))
            return uuid.uuid4().hex
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


class TransformersEmbedder(Embedder):
    """Any HF text encoder via `AutoModel`, pooled over tokens.

    Args:
        model_name_or_path (`str`): a local folder or a Hub id.
        pooling (`str`, *optional*, defaults to `"mean"`): `"mean"` (masked mean), `"cls"`, or
            `"unmasked_mean"` (mean over all positions, padding included, as the GOT-D reference).
        max_length (`int`, *optional*, defaults to 256): truncation length.
        padding (`str`, *optional*, defaults to `"longest"`): `"max_length"` reproduces fixed-length padding.
        normalize (`bool`, *optional*, defaults to `False`): L2-normalise the embeddings.
        device (`str`, *optional*): defaults to the GPU when there is one.
        revision (`str`, *optional*): Hub revision.
    """

    def __init__(
        self,
        model_name_or_path: str,
        pooling: Literal["mean", "cls", "unmasked_mean"] = "mean",
        max_length: int = 256,
        padding: Literal["longest", "max_length"] = "longest",
        normalize: bool = False,
        device: str | None = None,
        revision: str | None = None,
    ):
        self.model_name_or_path = check_model_ref(str(model_name_or_path), "embedder")
        self.pooling = pooling
        self.max_length = max_length
        self.padding = padding
        self.normalize = normalize
        self.device = default_device() if device in (None, "auto") else str(device)
        self.revision = revision
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path, revision=self.revision)
            self._model = AutoModel.from_pretrained(self.model_name_or_path, revision=self.revision)
            self._model.to(self.device).eval()

    def embed(self, batch: list[Any]) -> np.ndarray:
        import torch

        self._load()
        enc = self._tokenizer(
            [str(t) for t in batch],
            padding=self.padding,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        with torch.inference_mode():
            hidden = self._model(**enc).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.pooling == "unmasked_mean":
            pooled = hidden.mean(1)
        else:
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return {
            "type": "transformers",
            "repo": self.model_name_or_path,
            "revision": model_identity(self.model_name_or_path, self.revision),
            "pooling": self.pooling,
            "max_length": self.max_length,
            "padding": self.padding,
            "normalize": self.normalize,
        }


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model (needs the `st` extra).

    Args:
        model_name_or_path (`str`): a local folder or a Hub id.
        normalize (`bool`, *optional*, defaults to `False`): L2-normalise the embeddings.
        device (`str`, *optional*): defaults to the GPU when there is one.
    """

    def __init__(self, model_name_or_path: str, normalize: bool = False, device: str | None = None):
        try:
            import sentence_transformers  # noqa: F401
        except ImportError as err:
            raise MissingDependencyError("sentence-transformers", "st", "SentenceTransformerEmbedder") from err
        self.model_name_or_path = check_model_ref(str(model_name_or_path), "embedder")
        self.normalize = normalize
        self.device = default_device() if device in (None, "auto") else str(device)
        self._model: Any = None

    def _hub_name(self) -> str:
        """sentence-transformers expands a bare name (`all-MiniLM-L6-v2`) to `sentence-transformers/<name>`."""
        name = self.model_name_or_path
        if "/" not in name and not Path(name).expanduser().exists():
            return f"sentence-transformers/{name}"
        return name

    def embed(self, batch: list[Any]) -> np.ndarray:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_name_or_path, device=self.device)
        out = self._model.encode(
            [str(t) for t in batch],
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        return {
            "type": "sentence-transformers",
            "repo": self.model_name_or_path,
            "revision": model_identity(self._hub_name()),
            "normalize": self.normalize,
        }


class ImageEmbedder(Embedder):
    """An HF vision model with its image processor; pooled output (or mean of the last hidden state).

    Args:
        model_name_or_path (`str`): a local folder or a Hub id (e.g. a ViT or ResNet checkpoint).
        device (`str`, *optional*): defaults to the GPU when there is one.
    """

    def __init__(self, model_name_or_path: str, device: str | None = None):
        self.model_name_or_path = check_model_ref(str(model_name_or_path), "image embedder")
        self.device = default_device() if device in (None, "auto") else str(device)
        self._model: Any = None
        self._processor: Any = None

    def embed(self, batch: list[Any]) -> np.ndarray:
        import torch

        if self._model is None:
            from transformers import AutoImageProcessor, AutoModel

            self._processor = AutoImageProcessor.from_pretrained(self.model_name_or_path)
            self._model = AutoModel.from_pretrained(self.model_name_or_path).to(self.device).eval()
        images = [_to_pil(x) for x in batch]
        inputs = self._processor(images=images, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self._model(**inputs)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(1)
        return pooled.reshape(len(images), -1).float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        return {"type": "image", "repo": self.model_name_or_path, "revision": model_identity(self.model_name_or_path)}


class PixelEmbedder(Embedder):
    """Raw pixels (or any numeric array) flattened and scaled to [0, 1] for uint8 input."""

    def embed(self, batch: list[Any]) -> np.ndarray:
        rows = []
        for item in batch:
            arr = np.asarray(item)
            rows.append(arr.astype(np.float32).ravel() / (255.0 if arr.dtype == np.uint8 else 1.0))
        widths = {r.shape[0] for r in rows}
        if len(widths) > 1:
            raise ShapeMismatchError(f"pixel arrays have different sizes {sorted(widths)}: resize the images first")
        return np.stack(rows)

    def describe(self) -> dict[str, Any]:
        return {"type": "pixels"}


def _to_pil(x: Any) -> Any:
    from PIL import Image

    return x if isinstance(x, Image.Image) else Image.fromarray(np.asarray(x, dtype=np.uint8))


def get_embedder(spec: str | Embedder, **kwargs: Any) -> Embedder:
    """Build an embedder from a short spec.

    `"pixels"` gives [`PixelEmbedder`]; `"st:<path-or-id>"` a [`SentenceTransformerEmbedder`];
    `"image:<path-or-id>"` an [`ImageEmbedder`]; anything else a [`TransformersEmbedder`].
    """
    if isinstance(spec, Embedder):
        return spec
    if spec == "pixels":
        return PixelEmbedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:], **kwargs)
    if spec.startswith("image:"):
        return ImageEmbedder(spec[6:], **kwargs)
    return TransformersEmbedder(spec, **kwargs)


def _cache_dir() -> Path:
    base = os.environ.get("HF_DATAVALUE_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface")), "hf_datavalue"
    )
    return Path(base) / "embeddings"


def embed_dataset(
    dataset: Any,
    column: str,
    embedder: str | Embedder,
    output_column: str = "embedding",
    batch_size: int = 64,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Any:
    """Add a float32 embedding column computed from `column`.

    Works on `Dataset` (cached: the output fingerprint is derived from the input fingerprint and the
    embedder, and in-memory datasets are cached under `cache_dir`, default `$HF_HOME/hf_datavalue/embeddings`)
    and on `IterableDataset` (lazy, not cached).

    Args:
        dataset (`datasets.Dataset` or `datasets.IterableDataset`): the data.
        column (`str`): the text, image or array column to embed.
        embedder (`str` or [`Embedder`]): see [`get_embedder`].
        output_column (`str`, *optional*, defaults to `"embedding"`): name of the new column.
        batch_size (`int`, *optional*, defaults to 64): rows per forward pass.
        cache_dir (`str`, *optional*): where in-memory datasets keep their embedding cache.
        progress (`bool`, *optional*, defaults to `True`): show the `datasets` progress bar.

    Returns:
        The dataset with `output_column` added.
    """
    from datasets import Dataset, IterableDataset
    from datasets.fingerprint import Hasher

    emb = get_embedder(embedder)
    names = dataset.column_names
    if names is not None and column not in names:
        raise MissingColumnError("dataset", column, names)

    def _fn(batch: dict[str, list[Any]]) -> dict[str, Any]:
        out = emb.embed(batch[column])
        if not np.isfinite(out).all():
            raise NonFiniteError(f"the embedder produced NaN or infinite values for column {column!r}")
        return {output_column: list(out.astype(np.float32))}

    if isinstance(dataset, IterableDataset):
        return dataset.map(_fn, batched=True, batch_size=batch_size)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"expected a datasets.Dataset or IterableDataset, got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise EmptyDatasetError("cannot embed an empty dataset")
    fingerprint = Hasher.hash([dataset._fingerprint, column, output_column, emb.cache_key()])
    kwargs: dict[str, Any] = {}
    if not dataset.cache_files:
        folder = Path(cache_dir) if cache_dir else _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        kwargs["cache_file_name"] = str(folder / f"{fingerprint}.arrow")
    return dataset.map(
        _fn,
        batched=True,
        batch_size=batch_size,
        new_fingerprint=fingerprint,
        load_from_cache_file=True,
        desc=f"Embedding {column!r}" if progress else None,
        **kwargs,
    )


def embedding_matrix(dataset: Any, column: str, what: str = "dataset") -> np.ndarray:
    """Read an embedding (or any fixed-width numeric) column as a finite `(N, dim)` float32 array.

    Raises [`MissingColumnError`], [`EmptyDatasetError`], [`ShapeMismatchError`] (ragged rows) or
    [`NonFiniteError`] (NaN/inf, naming the first bad row).
    """
    if column not in dataset.column_names:
        raise MissingColumnError(what, column, dataset.column_names)
    if len(dataset) == 0:
        raise EmptyDatasetError(f"{what} is empty")
    col = dataset.with_format("numpy")[column]
    try:
        x = np.asarray(col, dtype=np.float32)
    except ValueError as err:
        raise ShapeMismatchError(f"column {column!r} of {what} has rows of different lengths") from err
    if x.ndim == 1:
        if x.dtype == object:
            raise ShapeMismatchError(f"column {column!r} of {what} has rows of different lengths")
        x = x[:, None]
    x = x.reshape(len(x), -1)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise NonFiniteError(
            f"column {column!r} of {what} has NaN or infinite values in {int(bad.sum())} rows (first: row {first}); "
            "drop or re-embed those rows"
        )
    return x
