#!/usr/bin/env bash
# LAVA benchmark: hf_datavalue vs OpenDataVal (own venv, same feature files) vs kNN, then the full-SST-2 scale run.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
ODV=.bench-venvs/opendataval/bin/python
source benchmarks/peer_venvs.sh && peer_venv opendataval  # its own venv: OpenDataVal pins torch 2.1
export PYTHONPATH=src HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
R=benchmarks/results/lava
$PY benchmarks/lava/bench.py prepare --out $R/data
for d in sst2 cifar10; do
  $PY benchmarks/lava/bench.py ours --data $R/data/$d.npz --features probe_logits --dump-features $R/data/${d}_probe.npz --out $R/${d}_ours_probe.json
  $PY benchmarks/lava/bench.py ours --data $R/data/$d.npz --features embeddings --out $R/${d}_ours_raw.json
  $PY benchmarks/lava/bench.py knn --data $R/data/$d.npz --out $R/${d}_knn.json
  $ODV benchmarks/lava/odv_lava.py --data $R/data/$d.npz --label "raw features" --out $R/${d}_odv_raw.json
  $ODV benchmarks/lava/odv_lava.py --data $R/data/${d}_probe.npz --label "probe logits" --out $R/${d}_odv_probe.json
done
$PY benchmarks/lava/bench.py throughput --n 2000 > $R/throughput.json
$PY benchmarks/lava/bench.py scale --out $R/scale.json
# Defaults: sweep on split A, choose, report on split B (probe-loss and kNN beside LAVA); probe fit timing.
$PY benchmarks/lava/sweep.py prepare
$PY benchmarks/lava/sweep.py sweep --split A
$PY benchmarks/lava/sweep.py choose
$PY benchmarks/lava/sweep.py report --split B
$PY benchmarks/lava/probe_fit.py
