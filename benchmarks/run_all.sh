#!/usr/bin/env bash
# Every benchmark, one method after the other (each run.sh sets up its own peer environments).
# Total: about 1.5-2 hours on a 2-core CPU machine. Results land in benchmarks/results/<method>/.
set -euo pipefail
cd "$(dirname "$0")/.."
for method in lava gotd mixing attribution projektor; do
  echo "=== $method"
  bash "benchmarks/$method/run.sh"
done
