"""Process groups for the methods that run under `accelerate launch`: who owns which shard, who writes, and
the few collectives a sharded run needs (barrier, broadcast, gather, an agreement check).

A plain `python`/`hf-datavalue` process gets a single-process context without touching accelerate; under
`accelerate launch` (torchrun sets `WORLD_SIZE`) the context wraps `accelerate.PartialState`, so the same code
runs in one process and in N with the same result. Shards are assigned round-robin (`shard % world == rank`),
which never depends on timing, so a killed run resumes with the same owners.

Usage:

```python
from hf_datavalue.core.distributed import process_context

ctx = process_context()
mine = [i for i in range(n_shards) if ctx.owns(i)]
ctx.check_same("config", config.to_json())      # every rank must run the same job
parts = ctx.gather(my_rows)                       # a list with one entry per rank, on every rank
if ctx.is_main:
    write_results(parts)
ctx.barrier()
```
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ConfigError, DataValueError

T = TypeVar("T")

__all__ = ["ProcessContext", "contiguous_ranges", "process_context", "resolve_device", "sharded_embedding_matrix"]

logger = logging.getLogger(__name__)


def resolve_device(device: str | None, ctx: ProcessContext | None = None) -> str:
    """`"auto"` (or `None`) -> this process's GPU when CUDA is visible (`cuda:<local rank>` under a launcher),
    else `"cpu"`; any other value is returned unchanged."""
    if device not in (None, "auto"):
        return str(device)
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    local = (ctx or process_context()).local_rank
    return f"cuda:{local % max(torch.cuda.device_count(), 1)}"


class ProcessContext:
    """Rank, world size and collectives of the current job (one process, or one of N under a launcher).

    Args:
        state (`accelerate.PartialState`, *optional*): the distributed state; `None` for a single process.
    """

    def __init__(self, state: Any = None):
        self._state = state
        self.rank: int = int(state.process_index) if state is not None else 0
        self.world: int = int(state.num_processes) if state is not None else 1
        self.local_rank: int = int(state.local_process_index) if state is not None else 0

    @property
    def is_main(self) -> bool:
        """True on the process that writes shared outputs (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def owns(self, shard: int) -> bool:
        """Whether this rank embeds/scores `shard` (round-robin, independent of timing)."""
        return shard % self.world == self.rank

    def barrier(self) -> None:
        if self._state is not None and self.world > 1:
            self._state.wait_for_everyone()

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """`obj` of rank `src`, on every rank (picklable objects)."""
        if self.world == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        box = [obj if self.rank == src else None]
        broadcast_object_list(box, from_process=src)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """One entry per rank, in rank order, on every rank (picklable objects)."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def on_main(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on rank 0 only and give its return value (or its input error) to every rank."""
        if self.world == 1:
            return fn(*args, **kwargs)
        out: Any = None
        err: BaseException | None = None
        if self.is_main:
            try:
                out = fn(*args, **kwargs)
            except DataValueError as e:
                err = e
        out, packed = self.broadcast((out, _pack(err)))
        if packed is not None:
            raise _unpack(packed)
        return out  # type: ignore[no-any-return]

    def raise_any(self, err: BaseException | None) -> None:
        """Collective: when any rank hit an input error, raise it (the lowest rank's) on every rank, so no
        process is left waiting in a collective."""
        if self.world == 1:
            if err is not None:
                raise err
            return
        packed = [p for p in self.gather(_pack(err)) if p is not None]
        if packed:
            if err is not None:
                raise err
            raise _unpack(packed[0])

    def check_same(self, what: str, value: Any) -> None:
        """Raise [`ConfigError`] on every rank when `value` (a JSON-able identity) differs between ranks."""
        if self.world == 1:
            return
        digest = hashlib.sha256(repr(value).encode("utf-8")).hexdigest()[:16]
        seen = self.gather(digest)
        if len(set(seen)) > 1:
            groups = {d: [r for r, x in enumerate(seen) if x == d] for d in dict.fromkeys(seen)}
            raise ConfigError(
                f"the processes of this `accelerate launch` run disagree on the {what} (ranks grouped by value: "
                f"{list(groups.values())}): every process must get the same arguments and the same data"
            )


def _pack(err: BaseException | None) -> tuple[str, str, str] | None:
    if err is None:
        return None
    return type(err).__module__, type(err).__qualname__, str(err)


def _unpack(packed: tuple[str, str, str]) -> BaseException:
    """The error of another rank, as the same class when importable (built without its `__init__`)."""
    import importlib

    module, name, message = packed
    try:
        cls: Any = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        err = cls.__new__(cls)
        err.args = (message,)
        return err  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - any failure: the base class with the same message
        return DataValueError(message)


def process_context() -> ProcessContext:
    """The context of this process: single-process unless a launcher set `WORLD_SIZE > 1`."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessContext()
    import torch
    from accelerate import PartialState

    # without a GPU, torchrun processes need `cpu=True` to join a gloo group (else accelerate runs them alone)
    return ProcessContext(PartialState(cpu=not torch.cuda.is_available()))


def contiguous_ranges(n: int, world: int, align: int = 1) -> list[tuple[int, int]]:
    """Split `range(n)` into `world` contiguous `(start, stop)` ranges whose boundaries are multiples of `align`
    (so every rank sees the same batches as one process would); trailing ranks may get empty ranges."""
    if world <= 0 or align <= 0:
        raise ConfigError(f"world and align must be positive, got {world} and {align}")
    blocks = -(-n // align)
    per, extra = divmod(blocks, world)
    out, start = [], 0
    for r in range(world):
        stop = start + per + (1 if r < extra else 0)
        out.append((min(start * align, n), min(stop * align, n)))
        start = stop
    return out


def sharded_embedding_matrix(
    dataset: Any,
    column: str,
    embedder: Any,
    *,
    batch_size: int = 64,
    progress: bool = True,
    what: str = "dataset",
    ctx: ProcessContext | None = None,
) -> Any:
    """[`~hf_datavalue.core.embeddings.embed_dataset`] + [`~hf_datavalue.core.embeddings.embedding_matrix`],
    with the rows split across the processes of an `accelerate launch` run.

    Each process embeds one contiguous slice whose boundaries are multiples of `batch_size` (so every batch is
    the one a single process would embed) and the slices are gathered in rank order: every process gets the full
    `(N, d)` float32 matrix, in dataset order. In one process this is exactly the unsharded call.

    Raises:
        ConfigError: on every process, when the processes were given other rows (a content hash of `column`
            differs) or another embedder.
    """
    import numpy as np

    from .embeddings import embed_dataset, embedding_matrix

    ctx = ctx or process_context()
    out_col = "__hf_datavalue_embedding"
    if not ctx.distributed:
        return embedding_matrix(
            embed_dataset(dataset, column, embedder, out_col, batch_size=batch_size, progress=progress), out_col, what
        )
    # every process must embed slices of the same rows with the same model: else the gathered matrix mixes data
    import hashlib

    from .rows import hash_values

    digest = (
        hashlib.sha256(hash_values(dataset[column]).tobytes()).hexdigest() if column in dataset.column_names else None
    )
    describe = getattr(embedder, "describe", None)
    ctx.check_same(f"{what} (rows, the {column!r} column)", (len(dataset), column, digest))
    ctx.check_same("embedder", describe() if callable(describe) else type(embedder).__qualname__)
    start, stop = contiguous_ranges(len(dataset), ctx.world, align=batch_size)[ctx.rank]
    part = None
    err: BaseException | None = None
    try:
        if stop > start:
            piece = dataset.select(range(start, stop))
            part = embedding_matrix(
                embed_dataset(piece, column, embedder, out_col, batch_size=batch_size, progress=progress),
                out_col,
                what,
            )
    except DataValueError as e:
        err = e
    ctx.raise_any(err)
    parts = [p for p in ctx.gather(part) if p is not None]
    if not parts:
        return embedding_matrix(dataset, column, what)  # an empty dataset: the usual typed error
    return np.concatenate(parts)
