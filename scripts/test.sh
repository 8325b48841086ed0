#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need from outside npm when it is
# missing (moto server in a local virtualenv, actionlint in a cache folder), runs jest under
# Node 22, and ends with one summary line: "jest: N passed, N failed[, N skipped]".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CHECKPOINT_DISABLE=1
IOT_DR_MOTO_SERVER="$(bash scripts/ensure-moto.sh)"
export IOT_DR_MOTO_SERVER
bash scripts/actionlint.sh -version >/dev/null

mkdir -p .build
results=.build/jest-results.json
rm -f "$results"
set +e
jest --json --outputFile="$results" "$@"
status=$?
set -e
if [ -f "$results" ]; then
  node -e '
    const r = require(process.argv[1]);
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
    if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) console.log(`jest: ${r.numFailedTestSuites} test files failed to run`);
  ' "$root/$results"
fi
exit "$status"
