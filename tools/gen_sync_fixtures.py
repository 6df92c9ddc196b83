#!/usr/bin/env python3
"""NumPy oracle for the audio-visual sync kernels (EmovoxSegmentationTests/Fixtures/sync_oracle.json).

    python3 tools/gen_sync_fixtures.py

- ncc: a mouth-motion series (NaN = no face) and a speech envelope; for every lag in ±maxLag the Pearson r
  (np.corrcoef) of motion[k] with envelope[k + lag] over the frames where both exist, and the best lag.
- envelope: a 16-bit 16 kHz test tone (the Swift test computes the same int16 samples — the first 100 are stored
  to check — and writes them to a WAV); RMS per bin of
  1/12.5 s, bin k covering [(k-1)/12.5, k/12.5) (bin 0 empty → 0), as Soundtrack.envelope defines it.
- band: a 220 Hz + amplitude-modulated 2 kHz test signal through SciPy's 2nd-order Butterworth high-pass at 1 kHz
  then low-pass at 4 kHz (scipy.signal.butter + lfilter, float64), its RMS per 1/12.5 s bin, and the change
  |e[k] - e[k-1]| (NaN for k < 2) the mouth motion is matched to.
- score: SyncNet-style confidence of a motion series (NaN gaps) against an envelope change (NaN head): the best
  linear-lag r within +-maxLag, the r at every circular shift maxLag+2..nullLag either way over the common length,
  and (peak - mean) / (std + 0.01).
- motion: two 56x32 patches (48x24 centre, 4 px search margin), the current one the previous shifted by (2, -1)
  with one block changed; the RMS difference of the centre at the best of the 81 shifts.
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

# --- band envelope, change, sync score, motion (a second generator, so the fixtures above stay as they were)
import scipy.signal as ss
rng2 = np.random.default_rng(11)
tb = np.arange(int(rate * seconds)) / rate
sig = 0.3 * np.sin(2 * np.pi * 220 * tb) + 0.3 * np.sin(2 * np.pi * 2000 * tb) * (0.1 + 0.9 * np.abs(np.sin(2 * np.pi * 2.1 * tb)))
pcm2 = np.clip(np.round(sig * 32767), -32768, 32767).astype(np.int16)
y = pcm2.astype(np.float64) / 32768
for btype, f in (("highpass", 1000), ("lowpass", 4000)):
    b, a = ss.butter(2, f, btype=btype, fs=rate)
    y = ss.lfilter(b, a, y)
band_rms = [0.0]
for k in range(1, bins):
    seg = y[int(np.ceil((k - 1) * per)): int(np.ceil(k * per))]
    band_rms.append(float(np.sqrt(np.mean(seg ** 2))) if len(seg) else 0.0)
change = [None, None] + [abs(band_rms[k] - band_rms[k - 1]) for k in range(2, len(band_rms))]

n2, L, null_lag = 70, 2, 18
env2 = np.abs(rng2.normal(size=n2)); env2[:2] = np.nan
mot2 = np.full(n2, np.nan)
for k in range(n2):
    if 3 <= k < 66 and k % 9 != 4:
        mot2[k] = env2[min(n2 - 1, k + 1)] * 0.6 + 0.5 * abs(rng2.normal()) if k + 1 >= 2 else 0.5
def pearson(xs, ys):
    return float(np.corrcoef(np.array(xs), np.array(ys))[0, 1])
def lin(lag):
    xs, ys = [], []
    for k in range(n2):
        j = k + lag
        if np.isnan(mot2[k]) or j < 0 or j >= n2 or np.isnan(env2[j]): continue
        xs.append(mot2[k]); ys.append(env2[j])
    return pearson(xs, ys)
def circ(shift):
    xs, ys = [], []
    for k in range(n2):
        j = (k + shift) % n2
        if np.isnan(mot2[k]) or np.isnan(env2[j]): continue
        xs.append(mot2[k]); ys.append(env2[j])
    return pearson(xs, ys)
near = {l: lin(l) for l in range(-L, L + 1)}
peak_lag = max(near, key=near.get)
far = min(null_lag, n2 - L - 2)
null = {s: circ(s) for d in range(L + 2, far + 1) for s in (d, -d)}
nv = np.array(list(null.values()))
z = (near[peak_lag] - nv.mean()) / (nv.std() + 0.01)

W, H, R = 48, 24, 4
prev = rng2.integers(0, 256, size=(H + 2 * R + 8, W + 2 * R + 8)).astype(np.float64)
prev = (prev + np.roll(prev, 1, 0) + np.roll(prev, 1, 1)) / 3          # some spatial correlation, like an image
big = prev
prevp = big[4:4 + H + 2 * R, 4:4 + W + 2 * R]
dx, dy = 2, -1
cur = big[4 + dy:4 + dy + H + 2 * R, 4 + dx:4 + dx + W + 2 * R].copy()
cur[14:20, 20:30] += 40                                                # the mouth opening: a change no shift explains
prevp, cur = np.round(prevp), np.round(cur)
best_motion = min(np.sqrt(np.mean((cur[R:R + H, R:R + W] - prevp[R + sy:R + sy + H, R + sx:R + sx + W]) ** 2))
           for sy in range(-R, R + 1) for sx in range(-R, R + 1))
plain = float(np.sqrt(np.mean((cur[R:R + H, R:R + W] - prevp[R:R + H, R:R + W]) ** 2)))

json.dump({"ncc": {"motion": [None if np.isnan(v) else float(v) for v in motion], "envelope": [float(v) for v in env],
                   "maxLag": max_lag, "r": {str(k): v for k, v in rs.items()}, "bestLag": best},
           "envelope": {"head": pcm[:100].tolist(), "count": len(pcm), "fps": fps, "rms": rms},
           "band": {"head": pcm2[:100].tolist(), "count": len(pcm2), "fps": fps, "low": 1000, "high": 4000, "rms": band_rms, "change": change},
           "score": {"motion": [None if np.isnan(v) else float(v) for v in mot2], "envelope": [None if np.isnan(v) else float(v) for v in env2],
                     "maxLag": L, "nullLag": null_lag, "near": {str(k): v for k, v in near.items()}, "peakLag": peak_lag,
                     "null": {str(k): v for k, v in null.items()}, "score": float(z)},
           "motion": {"width": W, "height": H, "radius": R, "previous": prevp.flatten().tolist(), "current": cur.flatten().tolist(),
                      "best": float(best_motion), "unshifted": plain}},
          open(out, "w"))
print(out, "ncc best lag", best, "| sync score", round(z, 3), "at lag", peak_lag)
