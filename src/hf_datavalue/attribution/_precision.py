"""Numerics of the Forward-INF update: a float32 view of half-precision models and forward-AD-safe attention.

A bf16 model cannot hold a small update: `lr * grad` is far below bf16's resolution (8 bits of mantissa, a
relative step of about 4e-3), so the updated weights round back to the old ones, and bf16 activations would
swamp the loss change anyway. When the model computes in float16/bfloat16, Forward-INF therefore runs its
forward passes on a float32 copy of the model's floating-point state (passed to `torch.func.functional_call`;
the live module is never touched), takes the step on float32 master copies, and scores in float32.

Memory: 4 bytes per parameter and buffer for the float32 copy (twice the bf16 model's own weights), plus 4 bytes
per updated parameter for each query held at once (`query_chunk_size`).

Usage:

```python
from hf_datavalue.attribution._precision import float32_state, needs_upcast

if needs_upcast(model, "auto"):
    state = float32_state(model)  # {name: float32 tensor} of every floating parameter and buffer
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = ["COMPUTE_DTYPES", "cast_batch", "float32_state", "forward_ad_attention", "master_dtype", "needs_upcast"]

COMPUTE_DTYPES = ("auto", "model")
HALF = (torch.float16, torch.bfloat16)


def needs_upcast(model: nn.Module, compute_dtype: str) -> bool:
    """Whether scoring runs on a float32 copy: with `"auto"`, when any parameter or buffer is float16/bfloat16."""
    if compute_dtype == "model":
        return False
    return any(p.dtype in HALF for p in model.parameters()) or any(b.dtype in HALF for b in model.buffers())


def float32_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Float32 copies of the model's half-precision parameters and buffers (wider ones are shared, not copied)."""
    state: dict[str, torch.Tensor] = {}
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        t = tensor.detach()
        state[name] = t.float() if t.dtype in HALF else t
    return state


def cast_batch(batch: Mapping[str, Any], dtype: torch.dtype | None) -> dict[str, Any]:
    """The batch with its half-precision tensors cast to `dtype` (no-op for `None`)."""
    if dtype is None:
        return dict(batch)
    return {k: (v.to(dtype) if isinstance(v, torch.Tensor) and v.dtype in HALF else v) for k, v in batch.items()}


def master_dtype(dtype: torch.dtype, exact: bool = False) -> torch.dtype:
    """The dtype of the optimizer's master copy of a parameter: float64 when `exact`, else at least float32."""
    if exact:
        return torch.float64
    return torch.float32 if dtype in HALF else dtype


@contextmanager
def forward_ad_attention() -> Iterator[None]:
    """Route `scaled_dot_product_attention` to its math kernel (forward-mode AD has no flash/efficient kernel).

    transformers models use SDPA by default; its CPU flash kernel and the CUDA flash/efficient kernels raise
    `NotImplementedError` under `torch.func.jvp`. The math kernel gives the same values. The previous kernel
    choice is restored on exit.
    """
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # pragma: no cover - torch < 2.3
        yield
        return
    with sdpa_kernel(SDPBackend.MATH):
        yield
