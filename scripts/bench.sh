#!/usr/bin/env bash
# Benchmarks, printed as tables with a same-run baseline next to each figure.
#   scripts/bench.sh            the exporter: encoding and serving /metrics for 1, 8 and 64 GPUs
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p gpuboard --bench exporter
