"""The layering rules of `docs/architecture.md`, checked on the source's imports (AST, no execution).

core <- methods <- HF adapters. A method package never imports an adapter or another method package (DAM's
strategies may compose LAVA and Projektor); core imports neither; no module in `src/` is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hf_datavalue.core.registry import METHOD_PACKAGES

SRC = Path(__file__).resolve().parents[1] / "src" / "hf_datavalue"
ADAPTERS = ("trainer_callbacks", "training", "hub_cards", "commands", "cli")
# (importing module prefix, imported package) pairs the design allows.
ALLOWED = {("dam.strategies", "lava"), ("dam.strategies", "projektor")}
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imported_packages(path: Path) -> set[str]:
    """Top-level hf_datavalue sub-packages imported by `path` (absolute or relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _module_name(path).split(".")
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own if is_package else own[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = ["hf_datavalue." + ".".join(target)] if target else []
                if not node.module:  # `from .. import x`: x may be a sub-package
                    names = ["hf_datavalue." + ".".join([*base, alias.name]) for alias in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "hf_datavalue" and len(parts) > 1:
                found.add(parts[1])
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_one_way(path):
    module = _module_name(path)
    layer = module.split(".")[0]
    imported = _imported_packages(path) - {layer}
    if layer == "core":
        bad = imported & {*METHOD_PACKAGES, *ADAPTERS}
        assert not bad, f"core module {module} imports {sorted(bad)}: core depends on nothing above it"
    elif layer in METHOD_PACKAGES:
        bad = {
            pkg
            for pkg in imported & {*METHOD_PACKAGES, *ADAPTERS}
            if not any(module.startswith(prefix) and pkg == allowed for prefix, allowed in ALLOWED)
        }
        assert not bad, f"method module {module} imports {sorted(bad)}: a method imports only core (see architecture)"


def test_layer_check_sees_relative_imports(tmp_path):
    """The checker itself must be able to fail: a relative import of another method is found."""
    fake = SRC / "lava" / "_layer_probe.py"
    assert _module_name(fake) == "lava._layer_probe"
    probe = tmp_path / "probe.py"
    probe.write_text("from ..gotd import GotdConfig\nfrom ..core.ot import sinkhorn\n")
    tree_path = SRC / "lava" / "probe_copy.py"
    try:
        tree_path.write_text(probe.read_text())
        assert _imported_packages(tree_path) == {"gotd", "core"}
    finally:
        tree_path.unlink()


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_size(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines (> {MAX_LINES}): split it along its seams"
