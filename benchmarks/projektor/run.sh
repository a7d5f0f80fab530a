#!/usr/bin/env bash
# Projektor benchmarks: CIFAR-10 and AG News three-source runs (labels and OT values are cached and resumable).
# Rows: benchmarks/results/projektor/{cifar,agnews}.json. About 10 minutes each on a shared 2-core CPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH=src HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
nice -n 10 .venv/bin/python benchmarks/projektor/cifar.py
nice -n 10 .venv/bin/python benchmarks/projektor/text.py
