#!/usr/bin/env bash
# Builds the fuzz targets with clang + libFuzzer and runs one of them for a while.
#   bash scripts/fuzz.sh stix_validate_fuzz [seconds]
# Not part of CI: a fuzz run is open-ended. ctest replays each corpus on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
LIAISON_FUZZ=1 bash scripts/install-deps.sh
target=${1:-stix_validate_fuzz}
seconds=${2:-300}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "$target"
module=${target%%_*}
name=${target#*_}
corpus=fuzz/$module/${name}_corpus
work=$(mktemp -d)
cp -r "$corpus"/. "$work"/
exec "./build/fuzz/fuzz/$module/$target" -max_total_time="$seconds" -max_len=65536 "$work" "$corpus"
