"""ProjektorConfig: `mixture_mode` (renamed from `ot_mode`, which still loads as a deprecated alias)."""

from __future__ import annotations

import json

import pytest

from hf_datavalue.cli import main
from hf_datavalue.core.errors import ConfigError
from hf_datavalue.projektor import ProjektorConfig

from .test_cli import _data_args, files  # noqa: F401  (fixture)


def test_mixture_mode_is_the_field_and_ot_mode_is_a_deprecated_alias():
    assert ProjektorConfig(mixture_mode="mass").mixture_mode == "mass"
    with pytest.warns(FutureWarning, match="mixture_mode"):
        cfg = ProjektorConfig(ot_mode="mass")
    assert cfg.mixture_mode == "mass"
    data = cfg.to_dict()
    assert data["mixture_mode"] == "mass" and "ot_mode" not in data  # saved under the new name only
    with pytest.warns(FutureWarning, match="mixture_mode"):
        old = ProjektorConfig.from_dict({"method": "projektor", "ot_mode": "mass"})
    assert old.mixture_mode == "mass" and old == ProjektorConfig.from_dict(data)
    with pytest.raises(ConfigError, match="old name ot_mode"):
        ProjektorConfig.from_dict({"ot_mode": "mass", "mixture_mode": "resampled"})
    with pytest.raises(ConfigError, match="mixture_mode must be"):
        ProjektorConfig(mixture_mode="weighted")  # type: ignore[arg-type]


def test_gradient_option_needs_the_debiased_distance():
    assert ProjektorConfig(gradient="debiased").gradient == "debiased"
    with pytest.raises(ConfigError, match="needs distance='debiased'"):
        ProjektorConfig(gradient="debiased", distance="plain")


def test_cli_mixture_mode_and_its_deprecated_flag(files, tmp_path):  # noqa: F811
    sources, valid, _ = files
    for flag in ("--mixture-mode", "--ot-mode"):
        out = tmp_path / f"w{flag}.json"
        argv = ["project", "select", *_data_args(sources, valid), flag, "mass", "--size", "200", "--ot-only",
                "--steps", "2", "--out", str(out)]  # fmt: skip
        if flag == "--ot-mode":
            with pytest.warns(FutureWarning, match="--mixture-mode"):
                assert main(argv) == 0
        else:
            assert main(argv) == 0
        assert json.loads(out.read_text())["provenance"]["config"]["mixture_mode"] == "mass"
