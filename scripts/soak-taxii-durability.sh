#!/usr/bin/env bash
# Durability soak (docs/taxii.md "Durability"): the kill -9 test of tests/taxii/durability_test.cc
# with many more kills than ctest runs. Usage: scripts/soak-taxii-durability.sh [KILLS] [PRESET]
# KILLS defaults to 300 (about 10 minutes under ASan), PRESET to asan.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-300}
preset=${2:-asan}
cmake --preset "$preset" >/dev/null
cmake --build "build/$preset" --target liaison taxii_durability_test -j2
LIAISON_DURABILITY_CYCLES=$kills "build/$preset/tests/taxii/taxii_durability_test"
