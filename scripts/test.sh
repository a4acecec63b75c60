#!/usr/bin/env bash
# Runs every test: formatting and lints, unit and integration tests (kubectl and kube-rs against a
# started sim, the dashboard's router against a sim, the exporter's binary), and the browser tests
# (Playwright + Debian's Chromium against `gpuboard serve --demo`), and schemathesis fuzzing the
# JSON API from its OpenAPI document against the demo. Tests that need an NVIDIA GPU
# are ignored here and run by scripts/gpu-check.sh. Installs what it needs first (scripts/setup.sh test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/tools/node_modules/.bin:$PATH"
KUBECTL="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/kubectl"
export KUBECTL

# A test run builds once; incremental caches would only cost disk (CI has little to spare).
export CARGO_INCREMENTAL=0

step() { printf '\n\033[1m== %s (%s)\033[0m\n' "$*" "$(date +%T)"; }

step "format"
cargo fmt --all -- --check
step "crate boundaries"
# The exporter DaemonSet carries neither the Leptos app nor the sim; the product image carries no sim.
if cargo tree -p gpuboard-exporter -e normal --prefix none | grep -E '^(leptos|gpuboard-sim) '; then
  echo "gpuboard-exporter must not depend on leptos or gpuboard-sim"; exit 1
fi
if cargo tree -p gpuboard --no-default-features -e normal --prefix none | grep -E '^gpuboard-sim '; then
  echo "gpuboard without its default features must not depend on gpuboard-sim"; exit 1
fi
step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "unit and integration tests"
cargo test --workspace
step "build the site's WASM, JS and CSS for the browser tests"
# The server they run is the one `cargo test` just built (target/debug/gpuboard, with the demo).
scripts/build-site.sh
step "browser tests"
# A port of its own, so a running demo on 3000 does not collide; Playwright refuses a busy port.
export GPUBOARD_E2E_PORT="${GPUBOARD_E2E_PORT:-3107}"
(cd end2end && npx playwright test)
step "API fuzzing: schemathesis over the OpenAPI document, against the demo"
scripts/api-fuzz.sh 100
step "done"
