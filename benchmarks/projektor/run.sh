#!/usr/bin/env bash
# Projektor benchmarks (labels and OT values are cached and resumable under benchmarks/results/projektor/cache/).
# Rows: benchmarks/results/projektor/{cifar_cnn_check,cifar_cnn_choose,cifar_cnn_report,separated_features_*,agnews_choose,agnews}.json.
# About 5 minutes each on a shared 2-core CPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH=src HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
nice -n 10 .venv/bin/python benchmarks/projektor/cifar_cnn_check.py               # spec §7 cheap check, 3 seeds
nice -n 10 .venv/bin/python benchmarks/projektor/cifar.py --seed 1 --tag choose    # settings chosen here
nice -n 10 .venv/bin/python benchmarks/projektor/cifar.py --seed 2 --tag report --choose-from cifar_cnn_choose  # reported here
nice -n 10 .venv/bin/python benchmarks/projektor/separated_features.py --seed 1 --tag choose  # diagnostic
nice -n 10 .venv/bin/python benchmarks/projektor/separated_features.py --seed 2 --tag report
nice -n 10 .venv/bin/python benchmarks/projektor/text.py --seed 1 --tag agnews_choose  # AG News: stage 1 chosen here
nice -n 10 .venv/bin/python benchmarks/projektor/text.py --choose-from agnews_choose    # and reported here
