#!/usr/bin/env bash
# Prepares the exporter's GPU check: builds the release exporter and the exporter crate's test
# binary (whose GPU tests are ignored elsewhere) here and copies both into device-bin/ (ignored by
# git), to be carried to a GPU machine and run there with scripts/gpu_check.py:
#   device run, carry ["device-bin"]:  python3 scripts/gpu_check.py --out "$OUT"
# On a machine that has the GPU and a Rust toolchain, `scripts/gpu-check.sh --run` does both.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gpuboard-exporter --bin gpuboard-exporter
tests=$(cargo test --release -p gpuboard-exporter --test exporter --no-run --message-format=json \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])')
mkdir -p device-bin
cp target/release/gpuboard-exporter device-bin/gpuboard-exporter
cp "$tests" device-bin/gpuboard-exporter-tests
echo "device-bin/ ready: gpuboard-exporter ($(du -h device-bin/gpuboard-exporter | cut -f1)), gpuboard-exporter-tests"
if [[ "${1:-}" == "--run" ]]; then
  python3 scripts/gpu_check.py --out docs
fi
