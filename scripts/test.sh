#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds, runs a CLI smoke test of every command, then the whole test suite.
# Tests that need ../shared (real corpora, reference teacher outputs) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --for-tests
# One release build with testability: numeric tests (gradient checks, parity, Haar detection) run at full speed,
# and the same build provides .build/release/emovox for the smoke test.
swift build --build-tests -c release -Xswiftc -enable-testing 2>&1 | grep -E 'error|warning: unre|Build' || true
test -x .build/release/emovox || { echo "build failed"; exit 1; }
bash scripts/smoke.sh
swift test --skip-build -c release -Xswiftc -enable-testing 2>&1 | grep -vE "^Test Case '.*' (started|passed)"
exit "${PIPESTATUS[0]}"
