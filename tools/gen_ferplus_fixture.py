#!/usr/bin/env python3
"""Tiny FER+-layout fixture for EmovoxTeacherTrainingTests (Pillow, NumPy).

    python3 tools/gen_ferplus_fixture.py

Writes Tests/EmovoxTeacherTrainingTests/Fixtures/ferplus/: FER2013Train|Valid|Test/ with 48×48 grey PNGs and a
header-less label.csv (image,"(x, y, w, h)",10 vote counts), and fer2013new.csv (Usage, Image name, votes)
naming the same images. Synthetic "faces": the majority class decides where a bright blob sits, so a net can
learn it in a few epochs. Each split also holds faces whose majority is unknown or NF (to be dropped), a tie,
and the train split one row per emotion so every class appears.
"""
import os
import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests/EmovoxTeacherTrainingTests/Fixtures/ferplus")
rng = np.random.default_rng(12)
USAGE = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}
COUNTS = {"FER2013Train": 24, "FER2013Valid": 10, "FER2013Test": 10}
release = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
n = 0
for split, count in COUNTS.items():
    os.makedirs(os.path.join(ROOT, split), exist_ok=True)
    rows = []
    for i in range(count):
        votes = np.zeros(10, int)
        if i == count - 1:
            votes[8] = 6; votes[0] = 4                     # unknown majority: dropped
        elif i == count - 2:
            votes[9] = 10                                  # not a face: dropped
        else:
            c = i % 8 if split == "FER2013Train" else int(rng.integers(0, 8))
            votes[c] = 6 + int(rng.integers(0, 3))
            votes[(c + 1 + int(rng.integers(0, 7))) % 8] = 10 - votes[c]
        c = int(np.argmax(votes))
        y, x = np.mgrid[0:48, 0:48]
        cy, cx = 12 + 24 * ((c % 8) // 4), 8 + 10 * (c % 4)
        img = 40 + 170 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 40.0) + rng.normal(0, 8, (12, 12)).repeat(4, 0).repeat(4, 1)
        name = f"fer{n:07d}.png"; n += 1
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L").save(os.path.join(ROOT, split, name))
        vs = ",".join(map(str, votes))
        rows.append(f'{name},"(0, 0, 48, 48)",{vs}')
        release.append(f"{USAGE[split]},{name},{vs}")
    with open(os.path.join(ROOT, split, "label.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
release.append("Training,,0,0,0,0,0,0,0,0,0,10")  # as in the release: a row without an image
with open(os.path.join(ROOT, "fer2013new.csv"), "w") as f:
    f.write("\n".join(release) + "\n")
print(n, "images in", ROOT)
