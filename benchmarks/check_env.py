"""Check that the library's own environment is intact: no benchmark peer leaked into it and its stack imports.

`make bench` runs it before and after the benchmarks (the peers live in `.bench-venvs/<name>`, built by
`benchmarks/peer_venvs.sh`). Exit code 1 with one line per problem; prints the versions otherwise.

Usage: `PYTHONPATH=src .venv/bin/python benchmarks/check_env.py`
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

# Peers that must only live in their own venvs (import names).
PEERS = ("pydvl", "kronfluence", "opendataval", "captum", "dattri", "data_selection", "torchvision")
# The stack the library and its tests need, imported for real (pyarrow is what breaks under numpy<2).
STACK = ("numpy", "pyarrow", "torch", "datasets", "transformers", "accelerate", "ot", "sklearn", "hf_datavalue")


def main() -> int:
    problems = []
    for name in PEERS:
        if importlib.util.find_spec(name) is not None:
            problems.append(f"benchmark peer {name!r} is installed in {sys.prefix}: it belongs in .bench-venvs/")
    versions = {}
    for name in STACK:
        try:
            module = importlib.import_module(name)
        except Exception as err:  # any import failure is the finding
            problems.append(f"{name} fails to import in {sys.prefix}: {type(err).__name__}: {err}")
            continue
        versions[name] = getattr(module, "__version__", "?")
    if "numpy" in versions and int(versions["numpy"].split(".")[0]) < 2:
        problems.append(f"numpy {versions['numpy']} < 2 in {sys.prefix} (a peer downgraded it)")
    if "pyarrow" in versions:
        import pyarrow as pa

        pa.table({"x": [1.0, 2.0]}).to_pandas()  # exercises the numpy ABI
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    if check.returncode != 0:
        problems.append(f"pip check in {sys.prefix}: {check.stdout.strip() or check.stderr.strip()}")
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if not problems:
        print("environment ok: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
