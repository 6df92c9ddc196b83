#!/usr/bin/env bash
# Scale benchmark for the packed audio store (issue 11): generated corpora of 1k / 10k / 100k clips (the same
# RAVDESS WAVs repeated under new ids, synthetic teacher frames: tools/make_large_corpus.py), each packed with
# `emovox corpus pack` and distilled (vggm-small, batch 64) for $STEPS steps under /usr/bin/time -v: time to first
# step, steady samples/s and peak RSS. Then vggm-small training samples/s from the store (background prefetch)
# against clips held in memory (prepared in line), alternating runs on the 1k corpus.
#   scripts/bench_store.sh [OUT]        env: SIZES="1000 10000 100000" STEPS=30 THREADS=2 ROUNDS=3 TP_STEPS=12
#   FAST=1: corpora above the 1k base get an index repeating the base store's records (no decoding, no extra
#   disk) instead of a real pack: a test device for machines where 100k real packs do not fit.
set -euo pipefail
cd "$(dirname "$0")/.."
E=$PWD/.build/release/emovox
OUT=${1:-bench-store}
SHARED=${EMOVOX_SHARED:-../shared}
SIZES=${SIZES-"1000 10000 100000"}; STEPS=${STEPS:-30}; THREADS=${THREADS:-2}; ROUNDS=${ROUNDS:-3}; TP_STEPS=${TP_STEPS:-12}; FAST=${FAST:-0}
BASE=1000
mkdir -p "$OUT"
SRC=$SHARED/data/ravdess16k
if [ ! -d "$SRC" ]; then  # fresh clone without ../shared: espeak-ng speech (packed through ffmpeg's resampler)
  SRC=$OUT/espeak; mkdir -p "$SRC"
  for i in $(seq -w 1 60); do
    [ -f "$SRC/s$i.wav" ] || espeak-ng -s $((120 + 10#$i)) -w "$SRC/s$i.wav" "Sentence number $i is spoken for the store benchmark." 2>/dev/null
  done
fi
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time'; scripts/setup.sh installs it)"; exit 1; }
field() { grep -E "$1" "$2" | head -1 | sed -E 's/.*: //'; }
results=$OUT/results.tsv
echo -e "clips\tpack_s\tpack_peak_rss_mb\tdistill_wall_s\ttime_to_first_step_s\tsamples_per_s\tdistill_peak_rss_mb" > "$results"
for n in $SIZES; do
  m=$OUT/c$n.jsonl
  [ -f "$m" ] || python3 tools/make_large_corpus.py manifest --source "$SRC" --clips "$n" --base $BASE --out "$m"
  pack_s=-; pack_rss=-
  if [ "$FAST" = 1 ] && [ "$n" -gt $BASE ]; then
    [ -f "$OUT/c$BASE.jsonl.store/index.tsv" ] || { echo "FAST=1 needs the $BASE-clip store first (put $BASE in SIZES)"; exit 1; }
    [ -f "$m.store/index.tsv" ] || python3 tools/make_large_corpus.py repeat-store --base-store "$OUT/c$BASE.jsonl.store" --manifest "$m"
  else
    /usr/bin/time -v "$E" corpus pack "$m" > "$OUT/pack$n.out" 2> "$OUT/pack$n.time"
    pack_s=$(field "Elapsed" "$OUT/pack$n.time"); pack_rss=$(( $(field "Maximum resident" "$OUT/pack$n.time") / 1024 ))
  fi
  rm -rf "$OUT/run$n"
  /usr/bin/time -v "$E" distill --corpus "$m" --labels "$OUT/c$n.labels.jsonl" --out "$OUT/run$n" --model vggm-small --batch-size 64 \
    --lr-start 1e-3 --lr-end 1e-4 --max-steps "$STEPS" --threads "$THREADS" > "$OUT/distill$n.out" 2> "$OUT/distill$n.time"
  first=$(grep -oE "time to first step [0-9.]+" "$OUT/distill$n.out" | grep -oE "[0-9.]+$")
  rate=$(grep -oE "[0-9.]+ samples/s after it" "$OUT/distill$n.out" | grep -oE "^[0-9.]+")
  echo -e "$n\t$pack_s\t$pack_rss\t$(field "Elapsed" "$OUT/distill$n.time")\t$first\t$rate\t$(( $(field "Maximum resident" "$OUT/distill$n.time") / 1024 ))" >> "$results"
  tail -1 "$results"
done
# Store with prefetch vs memory (prepared in line, as before the store), and the store in line to show what the
# background thread hides; alternating, no held-out pass so only training steps are timed.
tp=$OUT/throughput.tsv
echo -e "round\tsource\tsamples_per_s" > "$tp"
for r in $(seq 1 "$ROUNDS"); do
  for mode in memory store-inline store-prefetch; do
    case $mode in memory) args="--in-memory --prefetch 0";; store-inline) args="--prefetch 0";; *) args="--prefetch 2";; esac
    rm -rf "$OUT/tp"
    "$E" distill --corpus "$OUT/c$BASE.jsonl" --labels "$OUT/c$BASE.labels.jsonl" --out "$OUT/tp" --model vggm-small --batch-size 64 \
      --lr-start 1e-3 --lr-end 1e-4 --max-steps "$TP_STEPS" --val-clips 0 --threads "$THREADS" $args > "$OUT/tp.out" 2>/dev/null
    echo -e "$r\t$mode\t$(grep -oE "[0-9.]+ samples/s after it" "$OUT/tp.out" | grep -oE "^[0-9.]+")" >> "$tp"
    tail -1 "$tp"
  done
done
[ "$ROUNDS" -gt 0 ] && python3 - "$tp" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = {m: statistics.median(float(r["samples_per_s"]) for r in rows if r["source"] == m) for m in ("memory", "store-inline", "store-prefetch")}
print("median samples/s: " + ", ".join(f"{m} {v:.1f}" for m, v in med.items())
      + f" -> store with prefetch / memory {med['store-prefetch'] / med['memory']:.3f}")
PY
column -t "$results"
