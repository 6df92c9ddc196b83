#!/usr/bin/env bash
# Installs emovox for the current user: builds release, copies the binary to PREFIX/bin (default ~/.local) and the
# face-teacher files to the XDG data folder ($XDG_DATA_HOME/emovox/teacher, default ~/.local/share/emovox/teacher),
# where an emovox run from any folder finds them (TeacherHome; $EMOVOX_HOME/teacher comes first when set).
#   scripts/install.sh [--no-build] [PREFIX]
# Run scripts/setup.sh first on a fresh machine: it fetches the teacher into .cache/teacher.
# --no-build installs the release binary already built (e.g. by CI's `swift build -c release -Xswiftc -enable-testing`).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi
PREFIX=${1:-$HOME/.local}
DATA=${XDG_DATA_HOME:-$HOME/.local/share}/emovox

if [ "$BUILD" = 1 ]; then
  echo "== swift build -c release"
  swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
fi
test -x .build/release/emovox || { echo "no .build/release/emovox: build first (or drop --no-build)"; exit 1; }
for f in emotion_model.hdf5 haarcascade_frontalface_default.xml; do
  test -f ".cache/teacher/$f" || { echo "no .cache/teacher/$f: run scripts/setup.sh first"; exit 1; }
done

mkdir -p "$PREFIX/bin" "$DATA/teacher"
# Copy then rename, so a running emovox or a half-copied file is never seen.
cp .build/release/emovox "$PREFIX/bin/.emovox.tmp" && mv "$PREFIX/bin/.emovox.tmp" "$PREFIX/bin/emovox"
for f in .cache/teacher/*; do
  [ -f "$f" ] || continue
  cp "$f" "$DATA/teacher/.$(basename "$f").tmp" && mv "$DATA/teacher/.$(basename "$f").tmp" "$DATA/teacher/$(basename "$f")"
done
echo "installed $PREFIX/bin/emovox; teacher files in $DATA/teacher"
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "(add $PREFIX/bin to PATH)";; esac
