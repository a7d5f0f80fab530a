#!/usr/bin/env bash
# GOT-D benchmarks (specs/gotd.md §7 speed, §8.7 AG News directional check). Run from the repository root:
#   bash benchmarks/gotd/run.sh
# Results: benchmarks/results/gotd/*.jsonl; the numbers are copied into docs/benchmarks_gotd.md.
set -euo pipefail
export PYTHONPATH=src HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-.venv/bin/python}
DSIR=.bench-venvs/dsir
OUT=benchmarks/results/gotd
mkdir -p "$OUT"

# DSIR lives in its own venv (numpy + nltk; no torch is ever resolved there).
source benchmarks/peer_venvs.sh && peer_venv dsir

# 1. Embed the real texts once (resumable shards under benchmarks/results/gotd_emb/), write the text files.
$PY benchmarks/gotd/embed_corpus.py --n500 10000 --extra 23496
$PY benchmarks/gotd/prepare_text.py

# 2. Speed: 100,000 candidates x 5,000 targets, one process per method (peak memory per method).
$PY benchmarks/gotd/speed.py --method random --n-pool 100000 | tee -a "$OUT/speed.jsonl"
$PY benchmarks/gotd/speed.py --method gotd --n-pool 100000 --ot-mode dense | tee -a "$OUT/speed.jsonl"
$PY benchmarks/gotd/speed.py --method gotd --n-pool 100000 --ot-mode online | tee -a "$OUT/speed.jsonl"
# solver A/B on the same problem (the solve alone): log-domain vs stabilised-kernel iterations
$PY benchmarks/gotd/speed.py --method gotd --n-pool 100000 --ot-mode dense --iteration log | tee -a "$OUT/speed.jsonl"
$PY benchmarks/gotd/speed.py --method gotd --n-pool 100000 --ot-mode dense --iteration kernel | tee -a "$OUT/speed.jsonl"
"$DSIR/bin/python" benchmarks/gotd/dsir_select.py --pool pool_speed.jsonl --k 10000 | tee -a "$OUT/speed.jsonl"

# 3. Quality: which domains / AG News labels GOT-D, kNN, TAPT/c, DSIR and random select.
$PY benchmarks/gotd/quality.py --n-target 2000 --ks 150,2000
# the same check with the spec's weak TF-IDF+SVD stand-in embedder (method vs embedder)
$PY benchmarks/gotd/quality.py --n-target 2000 --ks 150,2000 --features tfidf-svd \
  --out "$OUT/quality_tfidf_svd.jsonl" --selections benchmarks/results/gotd_emb/selections_tfidf_svd.json

# 4. Downstream: a small GPT-2 pre-trained on the pool, continued on each selection, AG News ppl + accuracy.
$PY benchmarks/gotd/downstream.py --methods none,scratch,random,dsir,gotd
$PY benchmarks/gotd/downstream.py --methods none,random,dsir,gotd --max-ft 250 --seeds 5  # low-label variant
