#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the whole test suite, then a CLI smoke test of every command.
# Tests that need ../shared (real corpora, reference teacher outputs) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-build
# One release build with testability: numeric tests (gradient checks, parity, Haar detection) run at full speed,
# and the same build provides .build/release/emovox for the smoke test.
swift build --build-tests -c release -Xswiftc -enable-testing 2>&1 | grep -E 'error|warning: unre|Compiling emovox|Build' || true
set +e
swift test --skip-build -c release -Xswiftc -enable-testing 2>&1 | tee .build/test-output.txt | grep -vE "^Test Case '.*' (started|passed)"
status=${PIPESTATUS[0]}
set -e
grep -E "skipped|XCTSkip" .build/test-output.txt | grep -oE "(needs|python3|chromium|ffmpeg)[^\"]*" | sort | uniq -c || true
[ "$status" -eq 0 ] || exit "$status"
bash scripts/smoke.sh
