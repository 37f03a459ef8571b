#!/usr/bin/env bash
# ThreadSanitizer run of the threaded parts of `liaison match`: ParallelMatcher (workers over
# one log, hits back in order) and IndicatorReloader (a set built on a background thread and
# swapped between blocks). Too slow for ctest under the shared machine's budget, so a script:
#   bash scripts/tsan-match.sh            # build/tsan, then the two test binaries
# The build uses GCC's -fsanitize=thread on our code; the system libraries (simdjson, abseil's
# compiled parts, zlib) are not instrumented, so a report inside them alone is not evidence.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/tsan"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_C_FLAGS="-fsanitize=thread" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build" --target match_match_test match_reload_test -j"${JOBS:-2}"
export LIAISON_SHARED_DIR="${LIAISON_SHARED_DIR:-$root/../shared}" LIAISON_SOURCE_DIR="$root"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
"$build/tests/match/match_match_test" --gtest_filter='ParallelMatcher.*:MatchBlock.*'
# Repeated: a race in the swap would show only in some interleavings.
"$build/tests/match/match_reload_test" --gtest_repeat=20
echo "tsan-match: no data race reported"
