#!/usr/bin/env bash
# Quick start (1): installs what is needed, builds liaison in release mode and runs its main job
# on the embedded default. Needs nothing outside this repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target liaison
./build/release/src/app/liaison validate examples/bundle.json "$@"
