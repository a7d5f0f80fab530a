"""The method-contract matrix (peft's TEST_CASES): the same checks over every registered method.

A method joins by registering (`hf_datavalue.core.registry.register_method`) and shipping
`tests/<package>/contract_case.py` with `make_contract_case()` (or `make_contract_cases()` for a package that
registers several methods). The Hub push -> load leg of the matrix is in `tests/hub/test_contract_hub.py`.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import numpy as np
import pytest

from hf_datavalue import METHODS, get_method
from hf_datavalue.core.config import load_config
from hf_datavalue.core.errors import ConfigError
from hf_datavalue.core.registry import MethodResult, result_provenance
from tests.contract import ContractCase

TESTS = Path(__file__).resolve().parent


def _package_dir(module: str) -> Path:
    return TESTS / module.split(".")[1]


def collect_cases() -> dict[str, ContractCase]:
    """Every registered method's contract case, keyed by method name."""
    cases: dict[str, ContractCase] = {}
    for folder in sorted({_package_dir(spec.module) for spec in METHODS.values()}):
        path = folder / "contract_case.py"
        if not path.is_file():
            continue
        module = importlib.import_module(f"tests.{folder.name}.contract_case")
        found = (
            module.make_contract_cases() if hasattr(module, "make_contract_cases") else [module.make_contract_case()]
        )
        cases.update({case.method: case for case in found})
    return cases


CASES = collect_cases()


def table_dict(result) -> dict[str, list]:
    return result.to_dataset().to_dict()


def assert_same_table(left: dict[str, list], right: dict[str, list]) -> None:
    assert left.keys() == right.keys()
    for name in left:
        a, b = np.asarray(left[name]), np.asarray(right[name])
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a.tolist() == b.tolist(), name


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, object]:
    """One run per method (seed 0), shared by the checks that only read it."""
    return {name: case.run(0, tmp_path_factory.mktemp(name)) for name, case in CASES.items()}


def test_every_registered_method_has_a_case():
    missing = sorted(set(METHODS) - set(CASES))
    assert not missing, f"registered methods without tests/<package>/contract_case.py: {missing}"


@pytest.mark.parametrize("method", sorted(CASES))
def test_result_follows_the_protocol(method, results):
    spec, case, result = get_method(method), CASES[method], results[method]
    assert isinstance(result, spec.result_class)
    assert isinstance(result, MethodResult)
    table = result.to_dataset()
    assert len(table) == case.n_rows
    assert case.key_column in table.column_names
    assert spec.score_column in table.column_names
    prov = result_provenance(result)
    assert prov.method == method
    assert prov.n_rows == len(table)


@pytest.mark.parametrize("method", sorted(CASES))
def test_seed_determinism(method, results, tmp_path):
    again = CASES[method].run(0, tmp_path)
    assert_same_table(table_dict(results[method]), table_dict(again))


@pytest.mark.parametrize("method", sorted(CASES))
def test_config_json_round_trip(method):
    spec, case = get_method(method), CASES[method]
    default = spec.config_class()
    assert spec.config_class.from_json(default.to_json()) == default
    config = spec.config_class(**case.config_kwargs)
    again = spec.config_class.from_json(config.to_json())
    assert again == config
    assert dataclasses.asdict(again) == dataclasses.asdict(config)
    dispatched = load_config(config.to_dict())  # the method tag picks the class
    assert type(dispatched) is spec.config_class and dispatched == config


@pytest.mark.parametrize("method", sorted(CASES))
def test_save_load_round_trip(method, results, tmp_path):
    spec, result = get_method(method), results[method]
    out = result.save(tmp_path / method)
    loaded = spec.result_class.load(out)
    assert_same_table(table_dict(result), table_dict(loaded))
    assert result_provenance(loaded).to_dict()["method"] == method


@pytest.mark.parametrize("method", sorted(CASES))
def test_bad_config_is_a_typed_error(method):
    spec, case = get_method(method), CASES[method]
    assert case.bad_config, "a contract case names one bad config"
    with pytest.raises(ConfigError):
        spec.config_class(**case.bad_config)
    with pytest.raises(ConfigError, match="unknown"):
        spec.config_class.from_dict({"no_such_field": 1})
    other = next(name for name in sorted(METHODS) if name != method)
    with pytest.raises(ConfigError, match="config"):
        spec.config_class.from_dict({"method": other})


@pytest.mark.parametrize("method", sorted(METHODS))
def test_exports_and_cli_come_from_the_registration(method):
    import importlib

    import hf_datavalue
    from hf_datavalue.cli import build_parser
    from hf_datavalue.hub_cards.card import method_note

    spec = get_method(method)
    package = importlib.import_module(spec.module)
    for name in spec.exports:
        assert name in hf_datavalue.__all__, f"{name} ({method}) is not re-exported by hf_datavalue"
        assert getattr(hf_datavalue, name) is getattr(package, name)
    if spec.cli_command:
        sub = next(a for a in build_parser()._actions if a.dest == "command")
        assert spec.cli_command in sub.choices, f"`hf-datavalue {spec.cli_command}` is missing"
    assert method_note(method, "") == (spec.card_title, spec.card_note)
    assert getattr(spec.config_class, "method", None) == method
