#!/usr/bin/env bash
# Data-parallel training throughput: vggm-small distillation samples/s on a generated corpus, one process with
# 1 or 2 threads against 2 MPI ranks with 1 thread each (same global batch). Needs openmpi-bin and an MPI build.
#   scripts/bench_mpi.sh [CLIPS=128] [EPOCHS=2]   → CSV: setup,ranks,threads,micro_batches,samples_per_s,cpu_s_per_100_samples
# samples/s is the best epoch of each run (timing.csv, clips of all ranks / rank 0's epoch time, audio loading
# excluded). Quote the numbers with the machine's load: on a shared machine they move between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
E=$PWD/.build/release/emovox
CLIPS=${1:-128}; EPOCHS=${2:-2}; BATCH=32
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
command -v mpirun >/dev/null || { echo "mpirun not found: install openmpi-bin (scripts/setup.sh)" >&2; exit 1; }

onehot() { local v=(0 0 0 0 0 0 0); v[$1]=2; local IFS=,; echo "[${v[*]}]"; }
# Tones in noise, 4.5 s each (longer than a 4.024 s crop), with teacher logits at two times.
for i in $(seq 0 $((CLIPS - 1))); do
  sox -n -r 16000 -b 16 -c 1 "$T/c$i.wav" synth 4.5 sine $((120 + (i % 6) * 40)) synth 4.5 whitenoise mix vol 0.3 2>/dev/null
  echo "{\"id\":\"c$i\",\"speaker\":\"s$((i % 8))\",\"audio\":\"c$i.wav\",\"split\":\"train\"}" >> "$T/m.jsonl"
  lg=$(onehot $((i % 7))); lh=$(onehot $(((i + 3) % 7)))
  echo "{\"clip\":\"c$i\",\"source\":\"synthetic\",\"teacher\":\"t\",\"classes\":[\"angry\",\"disgust\",\"fear\",\"happy\",\"sad\",\"surprise\",\"neutral\"],\"times\":[0.5,3.0],\"logits\":[$lg,$lh],\"maxLogits\":$lg,\"framesSampled\":2,\"framesWithoutFace\":0}" >> "$T/l.jsonl"
done

best() { tail -n +2 "$1/timing.csv" | cut -d, -f3 | sort -g | tail -1; }
common=(distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --model vggm-small --epochs "$EPOCHS" --batch-size $BATCH --lr-start 1e-3 --lr-end 1e-4)
# CPU seconds (user + sys of the whole run and its children, audio loading included) per 100 trained samples: what a
# setup costs in CPU, which a loaded machine distorts less than wall-clock rates. Open MPI polls while it waits.
run() {  # run NAME RANKS THREADS MICRO LABEL
  local launcher=()
  [ "$2" -gt 1 ] && launcher=(mpirun --allow-run-as-root --oversubscribe -np "$2")
  local TIMEFORMAT=%U+%S cpu
  cpu=$( { time "${launcher[@]}" "$E" "${common[@]}" --out "$T/$1" --threads "$3" --micro-batches "$4" >/dev/null 2>&1 ; } 2>&1 )
  echo "$5,$2,$3,$4,$(best "$T/$1"),$(awk -v c="$cpu" -v n=$((EPOCHS * (CLIPS - CLIPS % ($2 * $4)))) 'BEGIN { split(c, t, "+"); printf "%.2f", 100 * (t[1] + t[2]) / n }')"
}
echo "setup,ranks,threads,micro_batches,samples_per_s,cpu_s_per_100_samples"
run p1t1 1 1 1 "1 process x 1 thread"
run p1t2 1 2 1 "1 process x 2 threads"
run p1t2k2 1 2 2 "1 process x 2 threads (2 micro-batches)"
run r2t1 2 1 1 "2 ranks x 1 thread"
