#!/usr/bin/env bash
# Renders an HTML report to PNG with headless Chromium, to look at it as a person would.
#   tools/render_report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
set -euo pipefail
html=$(realpath "$1"); out=$(realpath -m "$2"); size=${3:-1200,2400}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 2; }
"$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$out" "file://$html" >/dev/null 2>&1
test -s "$out" && echo "$out"
