#!/usr/bin/env bash
# Mixing benchmarks (CPU). Writes benchmarks/results/mixing/*.json|png; see docs/benchmarks_mixing.md.
# Usage: bash benchmarks/mixing/run.sh        (from the repository root; about 25-30 minutes on 2 busy cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export PYTHONPATH=src HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false HF_DATAVALUE_DISABLE_PROGRESS_BARS=1
$PY benchmarks/mixing/sampler_overhead.py --n 10000 --repeats 5 --out benchmarks/results/mixing
$PY benchmarks/mixing/toy_autoscale.py --work outputs/mixing_bench --out benchmarks/results/mixing
