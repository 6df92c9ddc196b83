#!/usr/bin/env python3
"""Side-by-side table from scripts/bench_side_by_side.sh output directories (emovox.json, peer.json, ...).

  python3 tools/bench_table.py bench-out                 # one run: numbers, ratios, targets
  python3 tools/bench_table.py run1 run2 run3            # several runs: median ratio [min–max] per measure

Ratios are emovox / peer (> 1 = emovox better; memory: peer / emovox). Compare ratios, not absolute times.
The peer is PyTorch at its best: the faster of NCHW and channels_last for every row (the layout is named).
"""
import json, os, platform, statistics, sys

# Issue 25's targets (emovox / peer at its best layout, 2 threads); the rest from earlier issues.
TARGETS = {"train": 1.5, "infer": 2.0, "teacher": 3.0, "teacher_tflite": 1.5, "teacher_train": 1.2, "spectrogram": 3.0,
           "memory": 1.0, "conv_share": 0.7, "short_video": 1.0}


def short(layout):
    return {"nchw": "NCHW", "channels_last": "ch-last"}.get(layout, layout or "NCHW")


def cpu():
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        return platform.processor() or platform.machine()


def rows(d, e, memory):
    """(measure, emovox, peer, unit, ratio, target) for one emovox result `e` against the run's peer."""
    p = json.load(open(f"{d}/peer.json"))
    out = []

    def row(name, ours, peer, unit, target=None, higher_better=True):
        if ours is None or peer is None:
            return
        out.append((name, ours, peer, unit, ours / peer if higher_better else peer / ours, target))

    es = {s["model"]: s for s in e.get("students", [])}
    ps = {s["model"]: s for s in p.get("students", [])}
    for m in es:
        if m in ps:
            row(f"{m} training step (batch 16; peer {short(ps[m].get('train_layout'))})", es[m]["train_samples_per_s"],
                ps[m]["train_samples_per_s"], "samples/s", TARGETS["train"])
            row(f"{m} inference (batch 16; peer {short(ps[m].get('inference_layout'))})", es[m]["inference_samples_per_s"],
                ps[m]["inference_samples_per_s"], "samples/s", TARGETS["infer"])
    if p.get("teacher_crops"):
        row(f"teacher on 64×64 crops (batch 64; peer {short(p['teacher_crops'].get('layout'))})", e.get("teacher_crops_frames_per_s"),
            p["teacher_crops"]["frames_per_s"], "frames/s", TARGETS["teacher"])
    if p.get("teacher_crops_tflite"):
        row("teacher on crops vs fer's TFLite (LiteRT)", e.get("teacher_crops_frames_per_s"), p["teacher_crops_tflite"]["frames_per_s"],
            "frames/s", TARGETS["teacher_tflite"])
    if p.get("teacher_training") and e.get("teacher_training"):
        # vgg-fer here; scripts/bench_teacher_train.sh puts vgg13-fer and vgg13-fer-wide side by side too.
        row(f"face-teacher training, vgg-fer 48×48 (batch 64; peer {short(p['teacher_training'].get('layout'))})",
            e["teacher_training"]["images_per_s"], p["teacher_training"]["images_per_s"], "images/s", TARGETS["teacher_train"])
    pv = {v["video"]: v for v in p.get("teacher_videos", [])}
    for v in e.get("teacher_videos", []):
        if v["video"] in pv:
            # The short clip (a few frames) is where detection weighs; its target is parity with OpenCV + PyTorch.
            row(f"teacher, video end to end ({v['video'][:14]}, {v['frames']} fr)", v["frames_per_s"], pv[v["video"]]["frames_per_s"], "frames/s",
                TARGETS["short_video"] if v["frames"] < 20 else None)
            if v.get("frames_per_s_detect_every_4"):
                row(f"  same, emovox --detect-every 4 (opt-in tracked detection)", v["frames_per_s_detect_every_4"], pv[v["video"]]["frames_per_s"], "frames/s")
    pl = {(r["corpus"], r["max_frame_height"]): r for r in p.get("label", [])}
    for r in e.get("label", []):
        q = pl.get((r["corpus"], r["max_frame_height"]))
        if q:
            # `label` end to end on real talking-face video; the peer is the same work in OpenCV + PyTorch.
            scaled = f", frames scaled to ≤{r['max_frame_height']} px" if r["max_frame_height"] else ""
            row(f"label {r['corpus'][:16]} ({r['clips']} clips, {r['frames']} fr{scaled})", r["frames_per_s"], q["frames_per_s"], "frames/s")
            row(f"  same, clips/s", r["clips_per_s"], q["clips_per_s"], "clips/s")
            if r.get("frames_per_cpu_s") and q.get("frames_per_cpu_s"):
                row(f"  same, frames per CPU second (all threads)", r["frames_per_cpu_s"], q["frames_per_cpu_s"], "frames/CPU s")
    # A label-only run (scripts/bench_side_by_side.sh --label) has none of the rows below.
    if p.get("spectrogram"):
        row("spectrogram, 4.024 s clips", e.get("spectrogram_clips_per_s"), p["spectrogram"]["clips_per_s"], "clips/s", TARGETS["spectrogram"])
    row("sgemm 1024³ (ours split over threads)", e.get("sgemm_gflops_1024"), p.get("sgemm_gflops_1024"), "GFLOP/s")
    if memory and os.path.exists(f"{d}/emovox_mem.json"):
        em = json.load(open(f"{d}/emovox_mem.json"))
        peers = [json.load(open(f)) for f in (f"{d}/peer_mem.json", f"{d}/peer_mem_cl.json") if os.path.exists(f)]
        pm = min(peers, key=lambda q: q["vggm_train_peak_rss_mb"])
        ours = next(v for k, v in em.items() if k.startswith("vggm_train"))
        row(f"vggm training peak RSS, batch 64 (peer {short(pm.get('layout'))})", ours, pm["vggm_train_peak_rss_mb"], "MB",
            TARGETS["memory"], higher_better=False)
    for m, s in es.items():
        # The ceiling: the better of sgemm at the start and right after this model's convs (other jobs on a
        # shared machine can depress either reading; the higher one is the conservative ceiling).
        ceiling = max(e["sgemm_gflops_1024"], s.get("sgemm_gflops_1024_nearby") or 0)
        conv = s.get("inference_conv_layers_gflops", s["inference_gflops"])
        row(f"{m} inference conv layers / sgemm rate", conv, ceiling, "GFLOP/s", TARGETS["conv_share"])
    return out


def runs(dirs):
    """Per directory: [(title, rows)] for the run as given and, when present, the native-kernel run."""
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if os.environ.get(k))
    out = []
    for d in dirs:
        e = json.load(open(f"{d}/emovox.json"))
        parts = [(f"environment as given ({env or 'no OpenBLAS overrides'}), OpenBLAS {e['openblas_core']}", rows(d, e, True), e)]
        if os.path.exists(f"{d}/emovox_native.json"):
            n = json.load(open(f"{d}/emovox_native.json"))
            parts.append((f"emovox on the native OpenBLAS kernel {n['openblas_core']} (overrides unset; same PyTorch run)", rows(d, n, False), n))
        out.append(parts)
    return out


def header(e, p):
    c = e.get("sgemm_check")
    check = "sgemm not measured" if c is None else \
        f"sgemm check {'passed' if c.get('passed') else 'FAILED'}, worst relative error {c.get('max_relative_error', float('nan')):.1e}"
    return (f"machine: {cpu()}, {os.cpu_count()} cores; threads {e['threads']}; emovox on OpenBLAS {e['openblas_core']} ({check}); "
            f"PyTorch {p['torch']} (faster of NCHW / channels_last per row)")


def verdict(r, t):
    return "" if t is None else f"≥{t:g}{'' if t < 1 else '×'} {'met' if r >= t else 'NOT met'}"


def main(dirs):
    all_runs = runs(dirs)
    peer = json.load(open(f"{dirs[0]}/peer.json"))
    for k, (title, first, e) in enumerate(all_runs[0]):
        print(f"\n== Side by side, {title}")
        print(header(e, peer))
        if len(dirs) == 1:
            print(f"{'measure':52s} {'emovox':>10s} {'PyTorch':>10s}  {'unit':10s}  ratio  target (ratio: emovox/peer, >1 = emovox better)")
            for n, o, q, u, r, t in first:
                num = lambda v: f"{v:10.1f}" if v >= 10 else f"{v:10.3f}"  # clips/s of short runs are small
                print(f"{n:52s} {num(o)} {num(q)}  {u:10s}  {r:5.2f}×  {verdict(r, t)}")
            continue
        print(f"{len(dirs)} runs; {'measure':44s} median ratio [min – max]   target (median)")
        for i, (n, *_rest) in enumerate(first):
            vals = [run[k][1][i][4] for run in all_runs if len(run) > k and len(run[k][1]) > i and run[k][1][i][0] == n]
            med, t = statistics.median(vals), first[i][5]
            print(f"{n:52s} {med:5.2f}× [{min(vals):.2f} – {max(vals):.2f}]   {verdict(med, t)}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bench-out"])
