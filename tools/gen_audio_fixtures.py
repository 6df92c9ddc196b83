#!/usr/bin/env python3
"""Oracle fixtures for EmovoxAudioTests (NumPy, SciPy, librosa, espeak-ng).

    python3 tools/gen_audio_fixtures.py

- speech16k.wav: 1.2 s of espeak-ng speech resampled to 16 kHz (made here, not corpus data).
- speech16k_spec512.npy / speech16k_spec257.npy: the VGGVox spectrogram computed by an independent NumPy
  implementation of the recipe (samples scaled to the int16 range as VGGVox does, DC removal, pre-emphasis
  0.97, symmetric Hamming 400, hop 160, 512-point FFT magnitude, per-bin mean / std (ddof=1) + 1e-5); its
  raw STFT is checked against librosa here.
- band8k.npy / band8k_spec257.npy: band-limited speech (the first 0.6 s resampled 16 → 8 → 16 kHz with
  scipy.signal.resample_poly) and its spectrogram: the bins above 4 kHz are nearly empty, where ε matters.
- resample_in.npy, resample_<up>_<down>.npy: scipy.signal.resample_poly(x, up, down) (Kaiser β = 5 windowed
  sinc, SciPy's defaults) of the first 0.25 s of speech16k, the oracle of the speed perturbation's resampler.
- fmt_*.wav: the same 0.1 s test tone in many WAV encodings; fmt_reference.npy holds the float signal.

Oracle mode (used by a test on real RAVDESS speech when ../shared is present):
    python3 tools/gen_audio_fixtures.py --oracle IN.wav OUT.npy [--bins 512]
"""
import os, struct, subprocess, sys, tempfile, wave
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EmovoxAudioTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def vggvox_spectrogram(x, bins=512, check_with_librosa=True):
    x = x.astype(np.float64) * 32768  # VGGVox works on int16-range samples
    x = x - x.mean()
    y = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]])
    win = np.hamming(400)  # symmetric, as MATLAB hamming(400)
    n = 1 + (len(y) - 400) // 160
    frames = np.stack([y[i * 160:i * 160 + 400] * win for i in range(n)], axis=1)
    mag = np.abs(np.fft.fft(frames, n=512, axis=0))
    # Oracle check of the framing/FFT against librosa's STFT (one-sided).
    if check_with_librosa:
        import librosa
        # librosa centres the 400-sample window in the 512 frame: pad by 56 so its frames start where ours do.
        ref = np.abs(librosa.stft(np.pad(y, (56, 56)), n_fft=512, hop_length=160, win_length=400, window=win, center=False))
        assert np.allclose(mag[:257], ref[:, :n], rtol=1e-4, atol=1e-5), "numpy STFT disagrees with librosa"
    mag = mag[:bins]
    mu = mag.mean(axis=1, keepdims=True)
    sd = mag.std(axis=1, ddof=1, keepdims=True) + 1e-5
    return ((mag - mu) / sd).astype(np.float32)


def write_wav16(path, x, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1 - 1 / 32768) * 32768).round().astype("<i2").tobytes())


if len(sys.argv) >= 4 and sys.argv[1] == "--oracle":
    bins = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--bins" else 512
    with wave.open(sys.argv[2]) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, "oracle mode reads 16-bit mono WAV"
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
    np.save(sys.argv[3], vggvox_spectrogram(x, bins, check_with_librosa=False))
    sys.exit(0)

import scipy.signal  # noqa: E402  (fixture generation only)

# espeak-ng speech → 16 kHz
with tempfile.TemporaryDirectory() as d:
    raw = os.path.join(d, "s.wav")
    subprocess.run(["espeak-ng", "-v", "en+f3", "-w", raw, "Kids are talking by the door."], check=True)
    with wave.open(raw) as w:
        rate = w.getframerate()
        s = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
speech = scipy.signal.resample_poly(s, 16000, rate)[: int(1.2 * 16000)]
# Stored as 16-bit-quantised float32 samples (.npy), not as a media file.
stored = np.round(np.clip(speech, -1, 1 - 1 / 32768) * 32768) / 32768
np.save(os.path.join(OUT, "speech16k.npy"), stored.astype(np.float32))
np.save(os.path.join(OUT, "speech16k_spec512.npy"), vggvox_spectrogram(stored, 512)[:, :40])
np.save(os.path.join(OUT, "speech16k_spec257.npy"), vggvox_spectrogram(stored, 257))

# Band-limited speech (telephone-like): 16 → 8 → 16 kHz.
band = scipy.signal.resample_poly(scipy.signal.resample_poly(stored[:9600], 1, 2), 2, 1).astype(np.float32)
np.save(os.path.join(OUT, "band8k.npy"), band)
np.save(os.path.join(OUT, "band8k_spec257.npy"), vggvox_spectrogram(band, 257))

# Resampler oracle: speed factors 1.1 and 0.9 (as 10/11 and 10/9 length ratios), and 8 kHz ↔ 16 kHz.
short = stored[:4000].astype(np.float32)
np.save(os.path.join(OUT, "resample_in.npy"), short)
for up, down in [(10, 11), (10, 9), (1, 2), (2, 1), (20, 21)]:
    y = scipy.signal.resample_poly(short.astype(np.float64), up, down)
    np.save(os.path.join(OUT, f"resample_{up}_{down}.npy"), y.astype(np.float32))

# The WAV encodings themselves are made at test time by sox (an independent encoder) from this tone.
t = np.arange(1600) / 16000
tone = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * 1000 * t)
np.save(os.path.join(OUT, "fmt_reference.npy"), tone.astype(np.float32))
print("fixtures written to", os.path.abspath(OUT))
