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
set +e
swift test --skip-build -c release -Xswiftc -enable-testing --disable-swift-testing > .build/test-output.txt 2>&1
status=$?
set -e
grep -vE "^Test Case '.*' (started|passed)" .build/test-output.txt
# The plain summary line, from XCTest's own totals.
line=$(grep -E "Executed [0-9]+ tests?" .build/test-output.txt | tail -1)
total=$(echo "$line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
skipped=$(echo "$line" | grep -oE "[0-9]+ tests? skipped" | grep -oE "^[0-9]+" || echo 0)
failed=$(echo "$line" | grep -oE "[0-9]+ failures?" | grep -oE "^[0-9]+" || echo 0)
echo "tests: $((total - skipped - failed)) passed, $failed failed, $skipped skipped"
# A short fuzz pass of every parser in a debug build under AddressSanitizer (its own scratch path, .build-asan):
# out-of-bounds accesses through unsafe pointers and in the C shims, which the release build's checks cannot see.
set +e
EMOVOX_FUZZ_SCALE=${EMOVOX_FUZZ_SCALE:-1} bash scripts/fuzz.sh --asan
asan_status=$?
set -e
[ "$status" -ne 0 ] && exit "$status"
exit "$asan_status"
