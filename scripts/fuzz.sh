#!/usr/bin/env bash
# Longer fuzzing for CI's spare time: the suite's seeded fuzz tests (one per parser) with every parser's
# input count multiplied. A crash leaves the input being parsed in $TMPDIR/emovox-fuzz-<pid>/.
#   scripts/fuzz.sh                                   # ×100 the suite's counts (~1.5 M inputs), seed 1, release build
#   EMOVOX_FUZZ_SCALE=1000 EMOVOX_FUZZ_SEED=7 scripts/fuzz.sh
#   scripts/fuzz.sh --asan                            # debug build with AddressSanitizer (.build-asan), ×10, seed 1
# The release build keeps Swift's bounds and overflow checks in the parsers (only EmovoxKernels is -Ounchecked), so a
# bad index traps there; --asan also catches what checks cannot see: reads and writes past a buffer through unsafe
# pointers, in Swift and in the C shims (image codecs, video decoding), use after free, double free.
set -euo pipefail
cd "$(dirname "$0")/.."
asan=0
[ "${1:-}" = "--asan" ] && asan=1
if [ $asan = 1 ]; then
  export EMOVOX_FUZZ_SCALE=${EMOVOX_FUZZ_SCALE:-10} EMOVOX_FUZZ_SEED=${EMOVOX_FUZZ_SEED:-1} EMOVOX_FUZZ_SLOWDOWN=${EMOVOX_FUZZ_SLOWDOWN:-10}
  # Leaks are not findings here (the Swift runtime keeps caches for the process's life); stop at the first error.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}
  build=(-c debug --sanitize=address --scratch-path .build-asan)
  out=.build-asan/fuzz-output.txt
else
  export EMOVOX_FUZZ_SCALE=${EMOVOX_FUZZ_SCALE:-100} EMOVOX_FUZZ_SEED=${EMOVOX_FUZZ_SEED:-1}
  build=(-c release -Xswiftc -enable-testing)
  out=.build/fuzz-output.txt
fi
swift build --build-tests "${build[@]}" 2>&1 | grep -E 'error|Build' || true
set +e
swift test --skip-build "${build[@]}" --disable-swift-testing \
  --filter 'EmovoxReliabilityTests.(FuzzTests|FuzzRegressionTests)' > "$out" 2>&1
status=$?
set -e
grep -E "^fuzz |error|crashed|ERROR: AddressSanitizer|SUMMARY: AddressSanitizer|Executed [0-9]+ tests" "$out" || true
total=$(grep -E '^fuzz ' "$out" | awk '{s += $3} END {print s + 0}')
echo "fuzz: $total inputs in total (scale $EMOVOX_FUZZ_SCALE, seed $EMOVOX_FUZZ_SEED$([ $asan = 1 ] && echo ", AddressSanitizer")), exit $status"
exit "$status"
