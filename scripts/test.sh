#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds, runs a CLI smoke test of every command, then the tests in two tiers:
#   oracle       kernels, parsers, metrics, models against committed fixtures and finite differences (fast);
#   integration  classes named *IntegrationTests: the built CLI under SIGKILL, mpirun, onnxruntime, Chromium.
# `scripts/test.sh --fast` builds and runs the oracle tier only (no set-up, no smoke test).
# Tests that need ../shared (real corpora, reference teacher outputs) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
[[ "${1:-}" == "--fast" ]] && fast=1
[[ $fast == 1 ]] || scripts/setup.sh --for-tests
# One release build with testability: numeric tests (gradient checks, parity, Haar detection) run at full speed,
# and the same build provides .build/release/emovox for the smoke test and the integration tier.
swift build --build-tests -c release -Xswiftc -enable-testing 2>&1 | grep -E 'error|warning: unre|Build' || true
test -x .build/release/emovox || { echo "build failed"; exit 1; }
[[ $fast == 1 ]] || bash scripts/smoke.sh

integration='IntegrationTests'   # the class-name suffix that puts a test in the integration tier
all_passed=0 all_failed=0 all_skipped=0 status=0
# run_tier NAME ARGS…: runs one tier, prints what did not pass and the tier's summary line from XCTest's own totals.
run_tier() {
    local name=$1; shift
    local out=.build/test-output-$name.txt
    set +e
    swift test --skip-build -c release -Xswiftc -enable-testing --disable-swift-testing "$@" > "$out" 2>&1
    local rc=$?
    set -e
    grep -vE "^Test Case '.*' (started|passed)" "$out"
    local line total skipped failed
    line=$(grep -E "Executed [0-9]+ tests?" "$out" | tail -1)
    total=$(echo "$line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
    skipped=$(echo "$line" | grep -oE "[0-9]+ tests? skipped" | grep -oE "^[0-9]+" || echo 0)
    failed=$(echo "$line" | grep -oE "[0-9]+ failures?" | grep -oE "^[0-9]+" || echo 0)
    [[ -n "$total" ]] || { echo "$name: no XCTest summary (exit $rc)"; status=1; return; }
    echo "$name: $((total - skipped - failed)) passed, $failed failed, $skipped skipped"
    all_passed=$((all_passed + total - skipped - failed)); all_failed=$((all_failed + failed)); all_skipped=$((all_skipped + skipped))
    [[ $rc == 0 ]] || status=$rc
}
run_tier oracle --skip "$integration"
[[ $fast == 1 ]] || run_tier integration --filter "$integration"
echo "tests: $all_passed passed, $all_failed failed, $all_skipped skipped"
[[ $fast == 1 ]] && exit "$status"
# A short fuzz pass of every parser in a debug build under AddressSanitizer (its own scratch path, .build-asan):
# out-of-bounds accesses through unsafe pointers and in the C shims, which the release build's checks cannot see.
set +e
EMOVOX_FUZZ_SCALE=${EMOVOX_FUZZ_SCALE:-1} bash scripts/fuzz.sh --asan
asan_status=$?
set -e
[ "$status" -ne 0 ] && exit "$status"
exit "$asan_status"
