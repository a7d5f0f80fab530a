#!/usr/bin/env bash
# Mislabel detection (20 % flipped labels): hf_datavalue attribution vs captum TracInCP and dattri TracIn.
# Usage: bash benchmarks/attribution/run.sh        (from the repository root; about 15-20 CPU minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1 PYTHONPATH=src TOKENIZERS_PARALLELISM=false
PY=${PY:-.venv/bin/python}
PEERS=.bench-venvs/peers
source benchmarks/peer_venvs.sh && peer_venv peers  # captum + dattri on the local CPU torch, in their own venv
[ -f outputs/bench_attribution/cifar10_cnn/model.safetensors ] || "$PY" benchmarks/attribution/prepare.py
"$PY" benchmarks/attribution/ours.py
"$PY" benchmarks/attribution/bf16.py
"$PEERS/bin/python" benchmarks/attribution/peers.py
"$PY" benchmarks/attribution/report.py > docs/benchmarks_attribution.md.new && mv docs/benchmarks_attribution.md.new docs/benchmarks_attribution.md
