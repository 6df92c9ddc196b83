#!/usr/bin/env python3
"""NumPy oracle for the audio-visual sync kernels (EmovoxSegmentationTests/Fixtures/sync_oracle.json).

    python3 tools/gen_sync_fixtures.py

- ncc: a mouth-motion series (NaN = no face) and a speech envelope; for every lag in ±maxLag the Pearson r
  (np.corrcoef) of motion[k] with envelope[k + lag] over the frames where both exist, and the best lag.
- envelope: a 16-bit 16 kHz test tone (the Swift test computes the same int16 samples — the first 100 are stored
  to check — and writes them to a WAV); RMS per bin of
  1/12.5 s, bin k covering [(k-1)/12.5, k/12.5) (bin 0 empty → 0), as Soundtrack.envelope defines it.
"""
import json, os
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../Tests/EmovoxSegmentationTests/Fixtures/sync_oracle.json")
rng = np.random.default_rng(3)
n, max_lag, true_lag = 60, 2, 2
env = np.abs(rng.normal(size=n + 4)).astype(np.float32)
motion = np.full(n, np.nan, dtype=np.float32)
for k in range(n):
    if 5 <= k < 50 and k % 7 != 3:   # gaps: frames without a face
        motion[k] = env[k + true_lag] * 0.8 + 0.3 * rng.normal()
rs = {}
for lag in range(-max_lag, max_lag + 1):
    xs, ys = [], []
    for k in range(n):
        j = k + lag
        if np.isnan(motion[k]) or j < 0 or j >= len(env):
            continue
        xs.append(float(motion[k])); ys.append(float(env[j]))
    rs[lag] = float(np.corrcoef(np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64))[0, 1])
best = max(rs, key=rs.get)

rate, fps, seconds = 16000, 12.5, 2.0
t = np.arange(int(rate * seconds)) / rate
tone = 0.5 * np.sin(2 * np.pi * 220 * t) * (0.2 + 0.8 * np.abs(np.sin(2 * np.pi * 1.3 * t)))
pcm = np.clip(np.round(tone * 32767), -32768, 32767).astype(np.int16)
x = pcm.astype(np.float64) / 32768
per = rate / fps
bins = int(np.floor((len(x) - 1) / per)) + 2
rms = [0.0]
for k in range(1, bins):
    seg = x[int(np.ceil((k - 1) * per)): int(np.ceil(k * per))]
    rms.append(float(np.sqrt(np.mean(seg ** 2))) if len(seg) else 0.0)

json.dump({"ncc": {"motion": [None if np.isnan(v) else float(v) for v in motion], "envelope": [float(v) for v in env],
                   "maxLag": max_lag, "r": {str(k): v for k, v in rs.items()}, "bestLag": best},
           "envelope": {"head": pcm[:100].tolist(), "count": len(pcm), "fps": fps, "rms": rms}},
          open(out, "w"))
print(out, "best lag", best, "r", rs[best])
