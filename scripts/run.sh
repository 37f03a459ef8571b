#!/usr/bin/env bash
# Quick start (1): installs what is needed, builds liaison in release mode and runs its main job,
# the TAXII 2.1 server on the embedded SQLite store (./liaison-data), on http://127.0.0.1:6543/.
# The first start prints the admin password. Needs nothing outside this repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target liaison
./build/release/src/app/liaison validate examples/bundle.json
exec ./build/release/src/app/liaison serve --seed examples/bundle.json "$@"
