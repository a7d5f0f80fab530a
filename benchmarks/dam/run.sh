#!/usr/bin/env bash
# DAM simulator benchmark: cached features, tuning split (seed 0), report split (seed 1), tables and plots.
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=${PYTHON:-.venv/bin/python}
nice -n 10 "$PY" benchmarks/dam/features.py
nice -n 10 "$PY" benchmarks/dam/tune.py
nice -n 10 "$PY" benchmarks/dam/bench.py --seed 0
nice -n 10 "$PY" benchmarks/dam/bench.py --seed 1
"$PY" benchmarks/dam/report.py
