#!/usr/bin/env bash
# Prepares the exporter's GPU check: builds the release binary here and copies it into device-bin/
# (ignored by git), to be carried to a GPU machine and run there with scripts/gpu_check.py:
#   device run, carry ["device-bin"]:  python3 scripts/gpu_check.py --exporter device-bin/gpuboard --out "$OUT"
# On a machine that has the GPU and a Rust toolchain, `scripts/gpu-check.sh --run` does both.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gpuboard --bin gpuboard
mkdir -p device-bin
cp target/release/gpuboard device-bin/gpuboard
echo "device-bin/gpuboard ready ($(du -h device-bin/gpuboard | cut -f1))"
if [[ "${1:-}" == "--run" ]]; then
  python3 scripts/gpu_check.py --exporter device-bin/gpuboard --out docs
fi
