#!/usr/bin/env bash
# Quick start (2): installs what is needed, builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs the whole test suite with ctest.
# Tests that read ../shared skip with a message where it is absent; set LIAISON_REQUIRE_SHARED=1
# (as .ci/run does) to make its absence a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${LIAISON_REQUIRE_SHARED:-0}" == 1 && ! -d ../shared/data ]]; then
  echo "test: ../shared is required here but absent" >&2
  exit 3
fi
bash scripts/install-deps.sh
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan "$@"
