#!/usr/bin/env python3
"""Prototype bench for the speaking-face sync score (docs/segmentation.md, issue 24 (c)): other mouth signals, scored
by a NumPy replica of AudioVisualSync.score, on the two-person composites of HardCaseTests.

Input: dumps of `testSpeakingFaceOnTwoPersonComposites` (EMOVOX_SYNC_DUMP, one per pairing EMOVOX_SYNC_PARTNER=k),
whose lines hold the 12.5 fps envelope change and per track its mouth series and detected boxes. The composites are
regenerated with HardCases.composite's ffmpeg line and decoded to grey; each signal is measured between consecutive
frames inside the same interpolated boxes as MouthMotionTracker, so `base` reproduces the Swift series (r > 0.9999)
and its decisions. Tools only (cv2, numpy, scipy, ffmpeg); never on the runtime path.

  EMOVOX_SYNC_PARTNER=11 EMOVOX_SYNC_DUMP=/tmp/p11.jsonl swift test -c release ... --filter 'EmovoxSegmentationTests.HardCaseTests/testSpeaking'
  (same for 5 and 8), then
  python3 tools/sync_mouth_signals.py --dump /tmp/p11.jsonl:11 --dump /tmp/p5.jsonl:5 --dump /tmp/p8.jsonl:8 \
      --talking ../shared/data/talking_av --work /tmp/syncproto [--signals base,flow_y,...]
"""
import argparse, json, os, subprocess
import numpy as np, cv2
from scipy.signal import butter, lfilter

MW, MH, R = 48, 24, 4      # AudioVisualSync.mouthWidth, mouthHeight, searchRadius


# --- the score (AudioVisualSync.score), with the lag window as parameters
def pearson(x, y):
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = (dx * dx).sum(), (dy * dy).sum()
    return None if sxx <= 1e-12 or syy <= 1e-12 else float((dx * dy).sum() / np.sqrt(sxx * syy))


def paired(m, e, lag, circular):
    n = min(len(m), len(e)) if circular else len(m)
    k = np.arange(n)
    j = (k + lag) % n if circular else k + lag
    ok = np.isfinite(m[:n]) & (j >= 0) & (j < len(e))
    ok[ok] &= np.isfinite(e[j[ok]])
    return m[:n][ok], e[j[ok]]


def windowed(m, e, window=25, hop=12, **options):
    """SyncNet's per-window votes: the mean score of windows of `window` frames every `hop` (far offsets circular over
    the whole clip, correlations over the window's frames only)."""
    votes = []
    for start in range(0, max(1, len(m) - window + 1), hop):
        part = np.full(len(m), np.nan)
        part[start:start + window] = m[start:start + window]
        s = score(part, e, min_frames=12, **options)
        if s is not None:
            votes.append(s)
    return np.mean(votes) if votes else None


def score(m, e, lo=-2, hi=2, null_lag=18, min_frames=20):
    peak = None
    for lag in range(lo, hi + 1):
        x, y = paired(m, e, lag, False)
        r = pearson(x, y) if len(x) >= min_frames else None
        if r is not None and (peak is None or r > peak):
            peak = r
    if peak is None:
        return None
    n, reach = min(len(m), len(e)), max(abs(lo), abs(hi))
    far = min(null_lag, n - reach - 2)
    if far < reach + 2:
        return None
    null = []
    for d in range(reach + 2, far + 1):
        for s in (d, -d):
            x, y = paired(m, e, s, True)
            r = pearson(x, y) if len(x) >= 3 else None
            if r is not None:
                null.append(r)
    if len(null) < 4:
        return None
    null = np.array(null)
    return (peak - null.mean()) / (null.std() + 0.01)


# --- media
def ffprobe(path, entries, stream=None):
    args = ['ffprobe', '-v', 'error'] + (['-select_streams', stream] if stream else []) + \
           ['-show_entries', entries, '-of', 'csv=p=0', path]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


def composite(talking, clips, k, index, work):
    """Composite `index` of pairing k, as HardCaseTests builds it: pair p = index / 2 is clip p with clip p + k, both
    orders; the left clip's voice."""
    p = index // 2
    a, b = clips[p % len(clips)], clips[(p + k) % len(clips)]
    left, right = (a, b) if index % 2 == 0 else (b, a)
    out = os.path.join(work, f'{k}_{index}.mp4')
    if not os.path.exists(out):
        length = min(float(ffprobe(os.path.join(talking, c), 'format=duration')) for c in (left, right))
        subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', os.path.join(talking, left), '-i', os.path.join(talking, right),
                        '-filter_complex', '[0:v]scale=-2:224,fps=25,setsar=1[a];[1:v]scale=-2:224,fps=25,setsar=1[b];[a][b]hstack=inputs=2[v]',
                        '-map', '[v]', '-map', '0:a', '-t', str(length), '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '23',
                        '-c:a', 'aac', '-ar', '16000', '-ac', '1', out], check=True)
    return out


def frames(path, fps):
    cache = f'{path}.{fps}.npy'
    if os.path.exists(cache):
        return np.load(cache)
    w, h = map(int, ffprobe(path, 'stream=width,height', 'v').split(','))
    raw = subprocess.run(['ffmpeg', '-v', 'error', '-i', path, '-vf', f'fps={fps}', '-pix_fmt', 'gray', '-f', 'rawvideo', '-'],
                         capture_output=True, check=True).stdout
    a = np.frombuffer(raw, np.uint8).reshape(-1, h, w)
    np.save(cache, a)
    return a


def envelope_change(path, rate, band=(1000, 4000), sr=16000):
    """Soundtrack.envelope + AudioVisualSync.change at `rate` bins per second (reproduces the dumped 12.5 fps one)."""
    raw = subprocess.run(['ffmpeg', '-v', 'quiet', '-i', path, '-ac', '1', '-ar', str(sr), '-f', 'f32le', '-'], capture_output=True).stdout
    x = np.frombuffer(raw, np.float32).astype(float)
    b, a = butter(2, band[0] / (sr / 2), 'high'); x = lfilter(b, a, x)
    b, a = butter(2, band[1] / (sr / 2), 'low'); x = lfilter(b, a, x)
    idx = (np.arange(len(x)) / (sr / rate)).astype(int) + 1
    n = idx.max() + 1
    e = np.sqrt(np.bincount(idx, x * x, n) / np.maximum(np.bincount(idx, None, n), 1))
    c = np.abs(np.diff(e, prepend=np.nan)); c[:2] = np.nan
    return c


# --- mouth signals between two frames in one box
def rnd(v):
    return int(np.floor(v + 0.5))


def patch(img, box, fx=0.2, fw=0.6, fy=2 / 3, fh=1 / 3):
    """AudioVisualSync.mouthPatch, with the region's fractions of the face box as parameters."""
    x, y, w, h = box
    rw, rh, rx, ry = w * fw, h * fh, x + w * fx, y + h * fy
    mx, my = rw * R / MW, rh * R / MH
    H, W = img.shape
    x0, y0 = max(0, min(W - 1, rnd(rx - mx))), max(0, min(H - 1, rnd(ry - my)))
    x1, y1 = max(x0 + 1, min(W, rnd(rx + rw + mx))), max(y0 + 1, min(H, rnd(ry + rh + my)))
    return cv2.resize(img[y0:y1, x0:x1].astype(np.float32), (MW + 2 * R, MH + 2 * R), interpolation=cv2.INTER_AREA)


def best_shift(p, c, vertical_only=False, stat=lambda d: np.sqrt((d * d).mean())):
    """AudioVisualSync.motion: the difference of c's centre against p shifted by up to R pixels, at the best shift."""
    cc = c[R:R + MH, R:R + MW]
    return min(stat(cc - p[R + dy:R + dy + MH, R + dx:R + dx + MW])
               for dy in range(-R, R + 1) for dx in ([0] if vertical_only else range(-R, R + 1)))


def region(**fractions):
    return lambda a, b, box: best_shift(patch(a, box, **fractions), patch(b, box, **fractions))


def dog(s1, s2):
    f = lambda p: cv2.GaussianBlur(p, (0, 0), s1) - cv2.GaussianBlur(p, (0, 0), s2)
    return lambda a, b, box: best_shift(f(patch(a, box)), f(patch(b, box)))


def top_fraction(q):
    def stat(d):
        s = np.sort((d * d).ravel())[::-1]
        return np.sqrt(s[:max(1, int(q * len(s)))].mean())
    return lambda a, b, box: best_shift(patch(a, box), patch(b, box), stat=stat)


def row_profile(a, b, box):
    """Vertical change only: the patch's row means (middle half of the width) at the best vertical shift."""
    pa, pb = patch(a, box), patch(b, box)
    ra, rb = pa[:, R + MW // 4:R + 3 * MW // 4].mean(1), pb[:, R + MW // 4:R + 3 * MW // 4].mean(1)
    return min(np.sqrt(((rb[R:R + MH] - ra[R + dy:R + dy + MH]) ** 2).mean()) for dy in range(-R, R + 1))


def flow(kind, size=96, rows=(0.65, 0.95), cols=(0.25, 0.75)):
    """Farneback optical flow of the face box (resized to size²), minus its median (head motion): RMS of the
    vertical flow in the mouth region (`y`), or the mean |∂v/∂y| there (`div`: opening and closing)."""
    r0, r1, c0, c1 = int(rows[0] * size), int(rows[1] * size), int(cols[0] * size), int(cols[1] * size)

    def crop(img, box):
        x, y, w, h = box
        return cv2.resize(img[max(0, y):y + h, max(0, x):x + w], (size, size), interpolation=cv2.INTER_AREA if w > size else cv2.INTER_LINEAR)

    def fn(a, b, box):
        f = cv2.calcOpticalFlowFarneback(crop(a, box), crop(b, box), None, 0.5, 3, 9, 3, 5, 1.1, 0)
        if kind == 'div':
            return np.abs(np.gradient(f[..., 1], axis=0)[r0:r1, c0:c1]).mean()
        v = f[r0:r1, c0:c1, 1] - np.median(f[..., 1])
        return np.sqrt((v * v).mean())
    return fn


def series(fr, boxes, fn, every, bridged=1):
    """MouthMotionTracker: boxes at the teacher's frames (every `every`-th decoded frame, phase (every − 1) / 2),
    interpolated between detections up to `bridged` misses apart; fn of frames j − 1 and j in the box of frame j."""
    s = np.full(len(fr), np.nan)
    bs = sorted((b[0] * every + (every - 1) // 2, tuple(b[1:])) for b in boxes)
    for (f0, b0), (f1, b1) in zip(bs, bs[1:]):
        if f1 - f0 > (bridged + 1) * every or f1 >= len(fr):
            continue
        for j in range(f0 + 1, f1 + 1):
            t = (j - f0) / (f1 - f0)
            s[j] = fn(fr[j - 1], fr[j], tuple(rnd(p + t * (q - p)) for p, q in zip(b0, b1)))
    return s


base = region()
# name → (decoding fps, per-pair function, score options); 25 fps = the teacher frame every 6th (6i + 2, checked
# against the 12.5 fps decode), lags and far offsets in 25 fps frames (±0.2 s, ±1.44 s as at 12.5 fps).
SIGNALS = {
    'base': (12.5, base, {}),
    'tighter (middle 50 %)': (12.5, region(fx=0.25, fw=0.5), {}),
    'lower (0.7-1.0)': (12.5, region(fy=0.7, fh=0.3), {}),
    'lower+taller (0.6-1.0)': (12.5, region(fy=0.6, fh=0.4), {}),
    'wider (middle 80 %)': (12.5, region(fx=0.1, fw=0.8), {}),
    'tight+low (50 %, 0.65-0.95)': (12.5, region(fx=0.25, fw=0.5, fy=0.65, fh=0.3), {}),
    'vertical shift only': (12.5, lambda a, b, box: best_shift(patch(a, box), patch(b, box), vertical_only=True), {}),
    'mean abs. difference': (12.5, lambda a, b, box: best_shift(patch(a, box), patch(b, box), stat=lambda d: np.abs(d).mean()), {}),
    'DoG 0.5-3 px': (12.5, dog(0.5, 3), {}),
    'DoG 1-4 px': (12.5, dog(1, 4), {}),
    'top 10 % of pixels': (12.5, top_fraction(0.1), {}),
    'row profile (vertical opening)': (12.5, row_profile, {}),
    'flow: vertical RMS': (12.5, flow('y'), {}),
    'flow: |dv/dy|': (12.5, flow('div'), {}),
    'base with 2 misses bridged': (12.5, base, {'bridged': 2}),
    'base with lags 0..+3': (12.5, base, {'lo': 0, 'hi': 3}),
    'base with windowed votes (2 s every 1 s)': (12.5, base, {'windowed': True}),
    'base at 25 fps (lags ±5, far ±1.44 s)': (25, base, {'lo': -5, 'hi': 5, 'null_lag': 36, 'min_frames': 40}),
    'base at 25 fps (lags ±5, far ±1 s)': (25, base, {'lo': -5, 'hi': 5, 'null_lag': 25, 'min_frames': 40}),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dump', action='append', required=True, help='FILE:k, a dump of pairing EMOVOX_SYNC_PARTNER=k')
    ap.add_argument('--talking', required=True, help='../shared/data/talking_av')
    ap.add_argument('--work', required=True, help='folder for the regenerated composites and decoded frames')
    ap.add_argument('--signals', help='comma-separated names (default: all)')
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    clips = sorted(f for f in os.listdir(args.talking) if f.endswith('.mp4'))
    items = []
    for spec in args.dump:
        path, k = spec.rsplit(':', 1)
        for index, line in enumerate(open(path)):
            d = json.loads(line)
            if any('boxes' not in t for t in d['tracks']):
                raise SystemExit(f'{path}: no boxes in the dump (made before the dump recorded them)')
            e = np.array([np.nan if v == -1 else v for v in d['envelope']])
            items.append((int(k), index, e, d['tracks']))
    names = args.signals.split(',') if args.signals else list(SIGNALS)
    for name in names:
        fps, fn, opts = SIGNALS[name]
        opts = dict(opts)
        bridged = opts.pop('bridged', 1)
        scorer = windowed if opts.pop('windowed', False) else score
        right, per, margins, misses = 0, {}, [], []
        for k, index, e, tracks in items:
            video = composite(args.talking, clips, k, index, args.work)
            fr = frames(video, fps)
            env = e if fps == 12.5 else envelope_change(video, fps)
            scored = []
            for t in tracks:
                s = scorer(series(fr, t['boxes'], fn, every=round(fps / (25 / 6)), bridged=bridged), env, **opts)
                if s is not None:
                    scored.append((t['left'], s))
            ok = bool(scored) and max(scored, key=lambda r: r[1])[0]
            right += ok; per[k] = per.get(k, 0) + ok
            if not ok:
                misses.append(f'{k}/{index}')
            speaker, silent = [s for l, s in scored if l], [s for l, s in scored if not l]
            if speaker and silent:
                margins.append(max(speaker) - max(silent))
        q = np.percentile(margins, [0, 10, 25, 50])
        print(f'{name:40s} {right}/{len(items)}  ' + ' '.join(f'p+{k}: {v}' for k, v in per.items()) +
              f'  margin min/q10/q25/median {q[0]:.2f}/{q[1]:.2f}/{q[2]:.2f}/{q[3]:.2f}  misses {" ".join(misses)}', flush=True)


if __name__ == '__main__':
    main()
