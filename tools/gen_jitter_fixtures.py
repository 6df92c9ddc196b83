#!/usr/bin/env python3
"""OpenCV oracle for the teacher-side face jitter (EmovoxVisionTests), opencv-python-headless.

    python3 tools/gen_jitter_fixtures.py

- jitter_oracle.json: a smooth synthetic 96×80 grey image (stored) and cv2.warpAffine views of it
  (INTER_LINEAR, BORDER_CONSTANT with the image's fill value, WARP_INVERSE_MAP) for squares given by
  centre, side and rotation; the map is the one FaceJitter.warp documents: output pixel (u, v) reads
  source (cx, cy) + R(angle) · ((u, v) + 0.5 − size / 2) · side / size, pixel centres at integers.
"""
import json, math, os
import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EmovoxVisionTests", "Fixtures")
w, h = 96, 80
x, y = np.meshgrid(np.arange(w), np.arange(h))
img = np.clip(np.round(128 + 70 * np.sin(x * 0.13) * np.cos(y * 0.11) + 0.6 * (x - y)), 0, 255).astype(np.uint8)
fill = int(round(img[-2:].mean()))

cases = []
for cx, cy, side, deg, size in [(47.5, 39.5, 32, 0, 32), (47.3, 39.8, 70, 10, 32), (30, 35, 90, -15, 32),
                                (60.2, 44.1, 40, 25, 48), (20, 70, 50, 5, 32)]:
    a = math.radians(deg)
    step = side / size
    c, s = math.cos(a) * step, math.sin(a) * step
    half = 0.5 - size / 2
    m = np.array([[c, -s, cx + c * half - s * half], [s, c, cy + s * half + c * half]])
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    cases.append({"cx": cx, "cy": cy, "side": side, "degrees": deg, "size": size, "pixels": out.flatten().tolist()})

with open(os.path.join(OUT, "jitter_oracle.json"), "w") as f:
    json.dump({"opencv": cv2.__version__, "width": w, "height": h, "fill": fill, "image": img.flatten().tolist(), "cases": cases}, f,
              separators=(",", ":"))
print("jitter_oracle.json written to", os.path.abspath(OUT))
