#!/usr/bin/env bash
# Set-up command 2: install what is missing, build (normal and ASan/UBSan) and
# run every test: C unit tests, end-to-end tests against the real binary
# (Python standard library + the npm OpenAPI validator), and the kill -9 crash
# test. Ends with the runner's summary.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error) || exit 1
fi
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build -j"$jobs" 2>&1 | grep -E "warning|error" ; test "${PIPESTATUS[0]}" -eq 0 || exit 1
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCAISSE_SANITIZE=ON >/dev/null || exit 1
cmake --build build-asan -j"$jobs" 2>&1 | grep -E "warning|error" ; test "${PIPESTATUS[0]}" -eq 0 || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0; fail=0
run() {  # run <label> <build dir> [ctest args...]
  local label=$1 dir=$2; shift 2
  echo "== $label"
  local out; out=$(mktemp)
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$out"
  local p f
  p=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$out" | tail -1)
  if [ -z "$p" ]; then fail=$((fail+1)); rm -f "$out"; return; fi
  local total failed; total=${p##* }; failed=$(echo "$p" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
  pass=$((pass + total - failed)); fail=$((fail + failed)); rm -f "$out"
}
run "release build: unit, end-to-end, crash" build
# The sanitizer build runs everything but the long crash test at reduced rounds.
CAISSE_CRASH_ROUNDS=${CAISSE_CRASH_ROUNDS_ASAN:-3} run "ASan/UBSan build" build-asan
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
