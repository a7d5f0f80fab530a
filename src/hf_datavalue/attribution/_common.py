"""Shared set-up of the attribution methods: dataset checks, scoring mode, devices, loaders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ..core.errors import MissingColumnError
from ..core.gradients import LossFn, is_hf_model
from ..core.row_loader import ROW_KEY, iterate_batches, ordered_loader, prepare_dataset


@contextmanager
def scoring_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode (BatchNorm statistics frozen, dropout off) and an untouched global RNG, restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    model.eval()
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def required_columns(model: nn.Module, loss_fn: LossFn | None) -> list[str]:
    """The input column a transformers model needs (`main_input_name`); none for a user loss function."""
    if loss_fn is not None or not is_hf_model(model):
        return []
    name = getattr(model, "main_input_name", None)
    return [name] if isinstance(name, str) else []


def prepare_pair(
    model: nn.Module, train_dataset: Any, test_dataset: Any | None, loss_fn: LossFn | None
) -> tuple[Any, Any | None]:
    req = required_columns(model, loss_fn)
    train = prepare_dataset(train_dataset, "train dataset", required_columns=req)
    test = prepare_dataset(test_dataset, "test dataset", required_columns=req) if test_dataset is not None else None
    return train, test


def query_batches(
    test: Any, batch_size: int, collate_fn: Callable[..., Any] | None, device: torch.device
) -> list[tuple[list[int], dict[str, Any]]]:
    """All test batches (on `device`), each as `(row keys, batch without row_idx)`; identical on every process."""
    out = []
    for batch in iterate_batches(ordered_loader(test, batch_size, collate_fn), device):
        keys = batch.pop(ROW_KEY).tolist()
        out.append(([int(k) for k in keys], batch))
    return out


@contextmanager
def renamed_missing_labels(what: str) -> Iterator[None]:
    """Report a batch without labels as a dataset without labels."""
    try:
        yield
    except MissingColumnError as err:
        if err.column != "labels":
            raise
        raise MissingColumnError(
            f"{what} (after collation)", "labels", err.available
        ) from None  # a test set needs labels for its loss
