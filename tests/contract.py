"""The method contract's test case type (peft's TEST_CASES pattern).

Each method's test folder has `contract_case.py` with `make_contract_case() -> ContractCase`; the matrix in
`tests/test_method_contract.py` runs the same checks over every registered method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContractCase:
    """One method's entry in the contract matrix.

    Args:
        method: the registered method name.
        run: `run(seed, tmp_path) -> result` on tiny real data (a [`MethodResult`]).
        n_rows: rows expected in `result.to_dataset()`.
        key_column: the table's join key (`"row_idx"` for per-example methods, `"domain"`/`"source"` for mixtures).
        bad_config: config kwargs that must raise `ConfigError`.
        config_kwargs: a non-default config for the JSON round trip.
    """

    method: str
    run: Callable[[int, Any], Any]
    n_rows: int
    key_column: str = "row_idx"
    bad_config: dict[str, Any] = field(default_factory=dict)
    config_kwargs: dict[str, Any] = field(default_factory=dict)
