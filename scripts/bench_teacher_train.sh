#!/usr/bin/env bash
# Face-teacher training speed: emovox's default conv path (Winograd at the teachers' 3×3 layers), its direct and im2col
# paths (same process, interleaved) and PyTorch
# (NCHW and channels_last), REPEATS rounds back to back, then the ratios of each round and their median.
#   scripts/bench_teacher_train.sh [THREADS] [REPEATS] [MODELS]     (defaults: 2 3 vgg-fer,vgg13-fer)
# Needs a release build (.build/release/emovox) and pip's torch (tools only). Compare ratios, not absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}; REPEATS=${2:-3}; MODELS=${3:-vgg-fer,vgg13-fer}
OUT=${BENCH_OUT:-bench-out/teacher-train}
mkdir -p "$OUT"
test -x .build/release/emovox || { echo "no .build/release/emovox: swift build -c release first"; exit 1; }
for r in $(seq 1 "$REPEATS"); do
  echo "== round $r: load $(cut -d' ' -f1-3 /proc/loadavg)"
  .build/release/emovox bench --threads "$THREADS" --only teacher-train --teacher-models "$MODELS" > "$OUT/emovox-$r.json"
  python3 tools/peer_bench.py --threads "$THREADS" --only-teacher-train "$MODELS" > "$OUT/peer-$r.json"
done
python3 tools/teacher_train_table.py "$OUT" "$REPEATS"
