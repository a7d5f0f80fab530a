#!/usr/bin/env bash
# Benchmark peers get their own virtual environments under .bench-venvs/<name>, never the library's .venv:
# their pins conflict with the library's stack (pyDVL needs numpy<2, after which pyarrow fails to import;
# kronfluence pulls torchvision and another torch; OpenDataVal pins torch 2.1 and transformers 4.35).
#
#   bash benchmarks/peer_venvs.sh              # create (or re-use) every peer venv below
#   bash benchmarks/peer_venvs.sh pydvl dsir   # only these
#   source benchmarks/peer_venvs.sh; peer_venv opendataval   # from a run.sh; prints nothing when up to date
#
# A venv is re-used only if its recorded spec (.peer-spec) equals the one below; a killed build has no
# .peer-spec and is rebuilt from scratch. Peers marked torch: get the local CPU torch first and a constraint
# that keeps it (so nothing resolves a CUDA build). Each build ends with `pip check` inside that venv.

PEER_PYTHON=${PEER_PYTHON:-python3}
PEER_TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PEER_ROOT=${PEER_ROOT:-.bench-venvs}

declare -A PEER_SPECS=(
  [opendataval]="opendataval==1.3.0 transformers==4.35.2"  # benchmarks/lava/odv_lava.py (brings its own torch 2.1)
  [peers]="torch: captum dattri safetensors numpy"          # benchmarks/attribution/peers.py
  [dsir]="data-selection numpy"                            # benchmarks/gotd/dsir_select.py (no torch at all)
  [pydvl]="pydvl"                                          # numpy<2
  [kronfluence]="torch: kronfluence"                       # also pulls torchvision (see below)
)
# What each venv must import after the build (a build that installs but does not import fails).
# kronfluence pulls torchvision, whose only wheel here is a CUDA build: with the CPU torch its C++ ops do not
# load (`import torchvision` raises "operator torchvision::nms does not exist"); kronfluence itself imports and
# runs without it, so nothing in that venv may import torchvision.
declare -A PEER_IMPORTS=(
  [opendataval]="opendataval"
  [peers]="captum dattri"
  [dsir]="data_selection"
  [pydvl]="pydvl"
  [kronfluence]="kronfluence"
)
PEER_NAMES=(opendataval peers dsir pydvl kronfluence)

peer_venv() {
  local name=$1
  local spec=${PEER_SPECS[$name]:-}
  if [ -z "$spec" ]; then
    echo "peer_venv: unknown peer '$name' (known: ${PEER_NAMES[*]})" >&2
    return 2
  fi
  local dir=$PEER_ROOT/$name
  local want="$spec | $PEER_TORCH_SPEC"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.peer-spec" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "peer_venv: building $dir ($spec)" >&2
  rm -rf "$dir"
  "$PEER_PYTHON" -m venv "$dir" || return 1
  local pip=("$dir/bin/python" -m pip install -q)
  local pkgs=$spec
  if [[ $spec == torch:* ]]; then
    pkgs=${spec#torch:}
    "${pip[@]}" "$PEER_TORCH_SPEC" || return 1
    # keep exactly the torch just installed: a peer asking for another one fails here instead of replacing it
    "$dir/bin/python" -c "import torch; print('torch==' + torch.__version__.split('+')[0])" > "$dir/constraints.txt"
    pip+=(--constraint "$dir/constraints.txt")
  fi
  # shellcheck disable=SC2086
  "${pip[@]}" $pkgs || return 1
  "$dir/bin/python" -m pip check >&2 || echo "peer_venv: warning: pip check reports conflicts inside $dir" >&2
  local module
  for module in ${PEER_IMPORTS[$name]:-}; do
    "$dir/bin/python" -c "import $module" || { echo "peer_venv: $dir cannot import $module" >&2; return 1; }
  done
  printf '%s' "$want" > "$dir/.peer-spec"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  for peer in "${@:-${PEER_NAMES[@]}}"; do
    peer_venv "$peer"
  done
fi
