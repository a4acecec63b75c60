#!/usr/bin/env bash
# Runs the demo: the dashboard at http://127.0.0.1:3000 on an embedded simulated cluster (the seeds' lab).
# Installs what it needs first (scripts/setup.sh demo). Extra arguments go to `gpuboard serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
export PATH="$PWD/tools/node_modules/.bin:$PATH"   # npm's wasm-opt before any other
cargo leptos build --release
exec target/release/gpuboard serve --demo "$@"
