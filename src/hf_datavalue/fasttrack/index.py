"""[`FastTrackIndex`]: the offline stage (embed, recursive k-means, keywords per leaf), saved and reloaded.

Saved layout (`FastTrackIndex.save`, also the resumable working folder of `FastTrackIndex.build`):

```
index_dir/
  index/              datasets.Dataset (row_idx, cluster_id, cluster_path), save_to_disk
  keywords.json       {"<cluster_id>": [keywords...]}
  centroids.npy       (n_clusters, d) float32 leaf centroids (embedding retrieval)
  index_meta.json     config, embedder and keyworder descriptions, build statistics
  run_config.json     guards the folder against mixing two builds
  embeddings.npy      the corpus embeddings (build cache: a rerun skips embedding)
```

Usage:

```python
from hf_datavalue.fasttrack import FastTrackConfig, FastTrackIndex

index = FastTrackIndex.build(corpus, FastTrackConfig(tau=100), embedder=minilm_path, output_dir="index_dir")
index = FastTrackIndex.load("index_dir")
index.to_dataset()          # row_idx, cluster_id, cluster_path
index.keywords[0]           # ['Steve Nunn', 'Glasgow', ...]
```
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core.embeddings import Embedder, embed_dataset, embedding_matrix, get_embedder
from ..core.errors import ConfigError, EmptyDatasetError, MissingColumnError, ShapeMismatchError
from ..core.io import prepare_output_dir, read_json, write_bytes_atomic, write_json_atomic
from ..core.rows import ROW_KEY
from .cache import ResponseCache
from .clustering import ClusterTree, recursive_kmeans
from .config import FastTrackConfig
from .keywords import Keyworder, LLMKeyworder, get_keyworder

__all__ = ["FastTrackIndex", "embed_texts"]

logger = logging.getLogger(__name__)


def _resolve_embedder(config: FastTrackConfig, embedder: str | Embedder | None) -> Embedder:
    spec = embedder if embedder is not None else config.embedder
    if spec is None:
        raise ConfigError(
            "FastTrack needs an embedder: pass embedder=<model path or Hub id> (e.g. a sentence-transformers "
            "MiniLM), set config.embedder, or give a precomputed config.embedding_column"
        )
    if isinstance(spec, Embedder):
        return spec
    kwargs: dict[str, Any] = {}
    if not str(spec).startswith(("st:", "image:")) and spec != "pixels":
        kwargs = {"pooling": config.pooling, "max_length": config.max_length, "normalize": config.normalize}
    return get_embedder(str(spec), **kwargs)


def embed_texts(
    texts: list[str],
    config: FastTrackConfig,
    embedder: str | Embedder | None,
    progress: bool = False,
    sharded: bool = False,
) -> np.ndarray:
    """Embed a list of strings with the index's embedder; L2-normalised when `config.normalize`.

    With `sharded=True` under `accelerate launch`, every process embeds one slice and all get the whole matrix
    ([`~hf_datavalue.core.distributed.sharded_embedding_matrix`]); every process must then call it.
    """
    from datasets import Dataset

    from ..core.distributed import sharded_embedding_matrix

    emb = _resolve_embedder(config, embedder)
    ds = Dataset.from_dict({"text": [str(t) for t in texts]})
    if sharded:
        x = sharded_embedding_matrix(
            ds, "text", emb, batch_size=config.embed_batch_size, progress=progress, what="texts"
        )
    else:
        x = embedding_matrix(embed_dataset(ds, "text", emb, batch_size=config.embed_batch_size, progress=progress),
                             "embedding", "texts")  # fmt: skip
    return _unit(x) if config.normalize else x


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class FastTrackIndex:
    """Leaf clusters of a corpus with their keywords and centroids.

    Args:
        labels (`np.ndarray`): `(N,)` cluster id of every corpus row (row position = `row_idx`).
        paths (`list[str]`): per cluster, its recursive k-means path.
        keywords (`list[list[str]]`): per cluster, its keywords.
        centroids (`np.ndarray`): `(n_clusters, d)` unit-norm centroids.
        config ([`FastTrackConfig`]): the configuration that built it.
        meta (`dict`, *optional*): embedder/keyworder descriptions and build statistics.
    """

    def __init__(
        self,
        labels: np.ndarray,
        paths: list[str],
        keywords: list[list[str]],
        centroids: np.ndarray,
        config: FastTrackConfig,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.paths = list(paths)
        self.keywords = [list(k) for k in keywords]
        self.centroids = np.asarray(centroids, dtype=np.float32)
        self.config = config
        self.meta = dict(meta or {})
        if not (len(self.paths) == len(self.keywords) == len(self.centroids)):
            raise ShapeMismatchError(
                f"index parts disagree: {len(self.paths)} paths, {len(self.keywords)} keyword lists, "
                f"{len(self.centroids)} centroids"
            )
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.paths)):
            raise ShapeMismatchError("cluster ids of the index fall outside its clusters")
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(len(self.paths) + 1))
        self._members = [order[bounds[c] : bounds[c + 1]] for c in range(len(self.paths))]

    @property
    def n_rows(self) -> int:
        return len(self.labels)

    @property
    def n_clusters(self) -> int:
        return len(self.paths)

    def members(self, cluster_id: int) -> np.ndarray:
        """Row positions (`row_idx`) of a cluster, ascending."""
        return self._members[int(cluster_id)]

    def sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.n_clusters)

    def to_dataset(self) -> Any:
        """`datasets.Dataset` with `row_idx`, `cluster_id`, `cluster_path` (one row per corpus row)."""
        from datasets import Dataset

        return Dataset.from_dict(
            {
                ROW_KEY: np.arange(self.n_rows, dtype=np.int64),
                "cluster_id": self.labels,
                "cluster_path": [self.paths[c] for c in self.labels],
            }
        )

    def keyworder(self) -> Keyworder:
        """The offline keyworder described in the index (an LLM keyworder must be passed again)."""
        return get_keyworder(self.meta.get("keyworder", {"name": "tfidf"}), self.config.max_keywords)

    # ---------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        dataset: Any,
        config: FastTrackConfig | None = None,
        embedder: str | Embedder | None = None,
        keyworder: Keyworder | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        overwrite: bool = False,
    ) -> FastTrackIndex:
        """Embed, cluster and keyword a corpus (`datasets.Dataset`); resumable when `output_dir` is given.

        Args:
            dataset (`datasets.Dataset`): the corpus; row position is the `row_idx`.
            config ([`FastTrackConfig`], *optional*): defaults to `FastTrackConfig()`.
            embedder (`str` or [`~hf_datavalue.core.embeddings.Embedder`], *optional*): overrides `config.embedder`.
            keyworder ([`Keyworder`], *optional*): defaults to the config's offline keyworder.
            output_dir (`str`, *optional*): working folder; finished stages (embeddings, clusters, keywords) are
                reused by a rerun with the same configuration, and the index is saved there.
            progress (`bool`, *optional*, defaults to `True`): progress bars.
            overwrite (`bool`, *optional*, defaults to `False`): reuse a folder that holds another build.
        """
        config = config or FastTrackConfig()
        if dataset is None or len(dataset) == 0:
            raise EmptyDatasetError("the corpus is empty: FastTrack needs at least one training example to index")
        if config.text_column not in dataset.column_names:
            raise MissingColumnError("corpus", config.text_column, dataset.column_names)
        kw = keyworder if keyworder is not None else get_keyworder(config.keyworder, config.max_keywords)
        emb_desc: dict[str, Any] | None = None
        emb_obj: Embedder | None = None
        if config.embedding_column is None:
            emb_obj = _resolve_embedder(config, embedder)
            emb_desc = emb_obj.describe()
        meta: dict[str, Any] = {
            "embedder": emb_desc or {"column": config.embedding_column},
            "embedder_spec": embedder if isinstance(embedder, str) else config.embedder,
            "keyworder": kw.describe(),
            "n_rows": len(dataset),
            "source_fingerprint": getattr(dataset, "_fingerprint", None),
        }
        out: Path | None = None
        if output_dir is not None:
            run_config = {"config": config.to_dict(), **{k: meta[k] for k in ("embedder", "keyworder", "n_rows")}}
            out = prepare_output_dir(output_dir, run_config=run_config, overwrite=overwrite)
            if (out / "index_meta.json").is_file() and (out / "index").is_dir() and not overwrite:
                logger.info("index already built in %s; loading it", out)
                return cls.load(out)
            if isinstance(kw, LLMKeyworder) and kw.cache.path is None:
                kw.cache = ResponseCache(out / "keyword_responses.jsonl")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        x = cls._embeddings(dataset, config, emb_obj, out, progress)
        timings["embed_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        tree = cls._cluster(x, config, out, progress)
        timings["cluster_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        texts = [str(t) for t in dataset[config.text_column]]
        keywords = kw.fit(texts, tree.labels, tree.n_leaves, progress=progress)
        timings["keyword_seconds"] = time.perf_counter() - start
        meta.update(
            timings,
            n_fallback_splits=tree.n_fallback_splits,
            kmeans_backend=tree.backend,
            keyword_calls=getattr(kw, "calls", 0),
        )
        index = cls(tree.labels, tree.paths, keywords, _unit(tree.centroids), config, meta)
        if out is not None:
            index.save(out, overwrite=True)
        return index

    @staticmethod
    def _embeddings(
        dataset: Any, config: FastTrackConfig, emb: Embedder | None, out: Path | None, progress: bool
    ) -> np.ndarray:
        cache = out / "embeddings.npy" if out is not None else None
        if cache is not None and cache.is_file():
            x = np.load(cache)
            if len(x) == len(dataset):
                logger.info("reusing corpus embeddings from %s", cache)
                return x
        if config.embedding_column is not None:
            x = embedding_matrix(dataset, config.embedding_column, "corpus")
        else:
            ds = embed_dataset(
                dataset.select_columns([config.text_column]),
                config.text_column,
                emb,  # type: ignore[arg-type]
                batch_size=config.embed_batch_size,
                progress=progress,
            )
            x = embedding_matrix(ds, "embedding", "corpus")
        x = _unit(x) if config.normalize else x
        if cache is not None:
            import io

            buf = io.BytesIO()
            np.save(buf, x)
            write_bytes_atomic(cache, buf.getvalue())
        return x

    @staticmethod
    def _cluster(x: np.ndarray, config: FastTrackConfig, out: Path | None, progress: bool) -> ClusterTree:
        return recursive_kmeans(
            x,
            tau=config.tau,
            branching=config.branching,
            max_top_clusters=config.max_top_clusters,
            n_init=config.n_init,
            seed=config.seed,
            backend=config.kmeans_backend,
            progress=progress,
        )

    # ---------------------------------------------------------------- save / load
    def save(self, output_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the index (Dataset + keywords JSON + centroids + meta) into `output_dir`."""
        import io

        out = Path(output_dir)
        if (out / "index_meta.json").is_file() and not overwrite:
            from ..core.errors import OutputExistsError

            raise OutputExistsError(f"{out} already holds a FastTrack index; pass overwrite=True to replace it")
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".index.tmp"
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        self.to_dataset().save_to_disk(str(tmp))
        if (out / "index").exists():
            import shutil

            shutil.rmtree(out / "index")
        os.replace(tmp, out / "index")
        write_json_atomic(out / "keywords.json", {str(c): kws for c, kws in enumerate(self.keywords)})
        buf = io.BytesIO()
        np.save(buf, self.centroids)
        write_bytes_atomic(out / "centroids.npy", buf.getvalue())
        write_json_atomic(
            out / "index_meta.json",
            {"config": self.config.to_dict(), "n_rows": self.n_rows, "n_clusters": self.n_clusters, **self.meta},
        )
        return out

    @classmethod
    def load(cls, output_dir: str | os.PathLike[str]) -> FastTrackIndex:
        """Read an index written by [`save`] (or by `build(output_dir=...)`)."""
        from datasets import load_from_disk

        path = Path(output_dir)
        if not (path / "index_meta.json").is_file():
            raise EmptyDatasetError(f"{path} holds no FastTrack index (index_meta.json is missing)")
        meta = read_json(path / "index_meta.json")
        table = load_from_disk(str(path / "index"))
        return cls._from_parts(table, read_json(path / "keywords.json"), np.load(path / "centroids.npy"), meta)

    def push_to_hub(
        self, repo_id: str, config_name: str = "fasttrack_index", private: bool = True, token: str | None = None
    ) -> None:
        """Push the index table as config `config_name` of a Hub dataset repo, with its side files beside it.

        The table (`row_idx`, `cluster_id`, `cluster_path`) becomes the dataset config; `keywords.json`,
        `centroids.npy` and `index_meta.json` go to `<config_name>/` in one commit, so [`from_hub`] rebuilds the
        whole index. An index of CC BY-NC data (e.g. LAMA-TREx) must stay non-commercial: keep the repo private.
        """
        import io
        import json

        from huggingface_hub import CommitOperationAdd, HfApi

        self.to_dataset().push_to_hub(repo_id, config_name=config_name, private=private, token=token)
        buf = io.BytesIO()
        np.save(buf, self.centroids)
        meta = {"config": self.config.to_dict(), "n_rows": self.n_rows, "n_clusters": self.n_clusters, **self.meta}
        files = {
            "keywords.json": json.dumps({str(c): k for c, k in enumerate(self.keywords)}, indent=1).encode("utf-8"),
            "centroids.npy": buf.getvalue(),
            "index_meta.json": json.dumps(meta, indent=1, sort_keys=True, default=str).encode("utf-8"),
        }
        HfApi(token=token).create_commit(
            repo_id=repo_id,
            repo_type="dataset",
            operations=[CommitOperationAdd(f"{config_name}/{name}", data) for name, data in files.items()],
            commit_message=f"FastTrack index side files ({config_name})",
        )

    @classmethod
    def from_hub(
        cls,
        repo_id: str,
        config_name: str = "fasttrack_index",
        revision: str | None = None,
        token: str | None = None,
    ) -> FastTrackIndex:
        """Load an index pushed by [`push_to_hub`] (the table config plus its side files at one revision).

        Usage:

        ```python
        index.push_to_hub("me/corpus-index")
        index = FastTrackIndex.from_hub("me/corpus-index")
        ```
        """
        import json
        import re

        from datasets import load_dataset
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

        def fetch(name: str, at: str | None) -> str:
            try:
                return hf_hub_download(repo_id, f"{config_name}/{name}", repo_type="dataset", revision=at, token=token)
            except RevisionNotFoundError as err:
                raise ConfigError(f"{repo_id} has no revision {at!r}: check the branch, tag or commit sha") from err
            except RepositoryNotFoundError as err:
                raise ConfigError(
                    f"dataset repo {repo_id!r} not found on the Hub, or private and no token: check the id or log in"
                ) from err
            except EntryNotFoundError as err:
                raise EmptyDatasetError(
                    f"{repo_id} has no FastTrack index file {config_name}/{name} at {at or 'main'}: push the index "
                    "with FastTrackIndex.push_to_hub, or check the config name"
                ) from err

        files = {"index_meta.json": fetch("index_meta.json", revision)}
        snapshot = Path(files["index_meta.json"]).parent.parent.name  # the snapshot folder is named after the commit
        sha = snapshot if re.fullmatch(r"[0-9a-f]{40}", snapshot) else revision
        for name in ("keywords.json", "centroids.npy"):  # every file read at that one commit
            files[name] = fetch(name, sha)
        table = load_dataset(repo_id, config_name, split="train", revision=sha, token=token)
        meta = json.loads(Path(files["index_meta.json"]).read_text(encoding="utf-8"))
        kw_json = json.loads(Path(files["keywords.json"]).read_text(encoding="utf-8"))
        meta["hub"] = {"repo_id": repo_id, "config_name": config_name, "revision": sha}
        return cls._from_parts(table, kw_json, np.load(files["centroids.npy"]), meta)

    @classmethod
    def _from_parts(
        cls, table: Any, kw_json: dict[str, list[str]], centroids: np.ndarray, meta: dict[str, Any]
    ) -> FastTrackIndex:
        meta = dict(meta)
        config = FastTrackConfig.from_dict(meta.pop("config"))
        row_idx = np.asarray(table[ROW_KEY], dtype=np.int64)
        n_clusters = int(meta.pop("n_clusters"))
        if len(row_idx) != int(meta.pop("n_rows", len(row_idx))) or len(np.unique(row_idx)) != len(row_idx):
            raise ShapeMismatchError("the index table does not hold every row exactly once")
        labels = np.empty(len(row_idx), dtype=np.int64)
        labels[row_idx] = np.asarray(table["cluster_id"], dtype=np.int64)
        paths = [""] * n_clusters
        for cid, p in zip(table["cluster_id"], table["cluster_path"]):
            paths[int(cid)] = p
        keywords = [list(kw_json.get(str(c), [])) for c in range(n_clusters)]
        return cls(labels, paths, keywords, centroids, config, meta)
