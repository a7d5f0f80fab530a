"""The README's mixing example and the documented loss-table format run as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from datasets import Dataset

from hf_datavalue.mixing import DDO, LossTable

REPO_ROOT = Path(__file__).resolve().parents[2]


def code_blocks(path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (REPO_ROOT / path).read_text(encoding="utf-8"), flags=re.S)


def loss_table(scale: float) -> LossTable:
    """A measured-looking table over the README's domains; larger budgets lower every perplexity."""
    base = {"wiki": 30.0 * scale, "code": 8.0 * scale, "web": 40.0 * scale}
    down = {"wiki": 1.20, "code": 1.30, "web": 1.15}
    up = {"wiki": 0.88, "code": 0.80, "web": 0.90}
    return LossTable.from_objective_matrix(
        list(base), base=sum(base.values()) / 3,
        down=[(sum(base.values()) - base[d] + base[d] * down[d]) / 3 for d in base],
        up=[(sum(base.values()) - base[d] + base[d] * up[d]) / 3 for d in base],
        budget=1e8 if scale == 1.0 else 3e8,
    )  # fmt: skip


def test_readme_mixing_block_runs(tmp_path, monkeypatch):
    (block,) = [b for b in code_blocks("README.md", "python") if "AutoScale(" in b]
    monkeypatch.chdir(tmp_path)
    loss_table(1.0).save("small.json")
    loss_table(0.9).save("large.json")
    texts = {"wiki": "the history of the city " * 3, "code": "def f(x): return x", "web": "buy now " * 5}
    namespace = {name: Dataset.from_dict({"text": [f"{t} {i}" for i in range(40)]}) for name, t in texts.items()}
    namespace["tokenizer"] = str.split  # any callable str -> list of tokens works
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the documented example, as written
    weights, train = namespace["weights"], namespace["train"]
    assert weights.unit == "tokens" and weights.budget == pytest.approx(10e9)
    assert len(train) > 0 and set(train.column_names) >= {"text"}


def test_the_documented_loss_table_format_loads_and_fits():
    (block,) = [b for b in code_blocks("docs/mixing.md", "json") if '"runs"' in b]
    table = LossTable.from_dict(json.loads(block))
    assert table.domains == ["wiki", "code", "web"] and len(table.runs) == 7
    weights = DDO().fit(table)
    assert sum(weights.as_list()) == pytest.approx(1.0) and weights.budget == 1e8
