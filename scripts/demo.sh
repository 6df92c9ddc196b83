#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the end-to-end demo (label → distill → analysis) into demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.build/release/emovox demo --out "${1:-demo-out}"
