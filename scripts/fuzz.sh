#!/usr/bin/env bash
# Longer fuzzing for CI's spare time: the suite's seeded fuzz tests (one per parser) with every parser's
# input count multiplied. A crash leaves the input being parsed in $TMPDIR/emovox-fuzz-<pid>/.
#   scripts/fuzz.sh                                   # ×100 the suite's counts (~1.2 M inputs), seed 1
#   EMOVOX_FUZZ_SCALE=1000 EMOVOX_FUZZ_SEED=7 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export EMOVOX_FUZZ_SCALE=${EMOVOX_FUZZ_SCALE:-100} EMOVOX_FUZZ_SEED=${EMOVOX_FUZZ_SEED:-1}
swift build --build-tests -c release -Xswiftc -enable-testing 2>&1 | grep -E 'error|Build' || true
set +e
swift test --skip-build -c release -Xswiftc -enable-testing --disable-swift-testing \
  --filter EmovoxReliabilityTests.FuzzTests > .build/fuzz-output.txt 2>&1
status=$?
set -e
grep -E "^fuzz |error|crashed|Executed [0-9]+ tests" .build/fuzz-output.txt || true
total=$(grep -E '^fuzz ' .build/fuzz-output.txt | awk '{s += $3} END {print s + 0}')
echo "fuzz: $total inputs in total (scale $EMOVOX_FUZZ_SCALE, seed $EMOVOX_FUZZ_SEED), exit $status"
exit "$status"
