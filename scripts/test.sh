#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the whole test suite. Tests that need ../shared (real corpora,
# reference teacher outputs) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-build
# Release build with testability: the numeric tests (gradient checks, parity) run at full speed.
swift build --build-tests -c release -Xswiftc -enable-testing 2>&1 | grep -E 'error|warning: unre|Compiling emovox|Build' || true
swift test --skip-build -c release -Xswiftc -enable-testing 2>&1 | tee .build/test-output.txt | grep -vE "^Test Case '.*' (started|passed)" 
status=${PIPESTATUS[0]}
exit "$status"
