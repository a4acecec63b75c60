#!/usr/bin/env bash
# Runs the demo: the dashboard at http://127.0.0.1:3000 on an embedded simulated cluster (the seeds' lab).
# Installs what it needs first (scripts/setup.sh demo), builds the release site and the release
# server (with the `demo` feature, on by default). Extra arguments go to `gpuboard serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
export PATH="$PWD/tools/node_modules/.bin:$PATH"   # npm's wasm-opt before any other
scripts/build-site.sh --release
cargo build --release -p gpuboard
exec target/release/gpuboard serve --demo "$@"
