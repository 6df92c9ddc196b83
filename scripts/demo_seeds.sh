#!/usr/bin/env bash
# The demo over seeds 0, 1 and 2, as the project publishes learning results (mean ± sd), then the table.
#   scripts/demo_seeds.sh OUT [emovox demo options…]      e.g.  scripts/demo_seeds.sh runs/demo-fer --teacher fer
# Each seed runs into OUT/seedS with --resume, so an interrupted call continues where it stopped (the demo's resume
# is bitwise); GNU time appends each process's wall and CPU time to OUT/seedS/time.txt. Needs a release build
# (scripts/setup.sh) and is run from the clone, like scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/demo_seeds.sh OUT [emovox demo options]}
shift
bin=${EMOVOX_BIN:-.build/release/emovox}
for seed in 0 1 2; do
  mkdir -p "$out/seed$seed"
  if [ -f "$out/seed$seed/summary.json" ]; then echo "== seed $seed: done ($out/seed$seed/summary.json)"; continue; fi
  echo "== seed $seed → $out/seed$seed"
  /usr/bin/time -a -v -o "$out/seed$seed/time.txt" "$bin" demo --out "$out/seed$seed" --seed "$seed" --resume "$@"
done
python3 tools/seed_table.py "$out/seed0" "$out/seed1" "$out/seed2" | tee "$out/seeds.md"
