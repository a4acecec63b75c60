#!/usr/bin/env bash
# Benchmarks, printed as tables with a same-run baseline next to each figure.
#   scripts/bench.sh             the exporter: encoding and serving /metrics for 1, 8 and 64 GPUs
#   scripts/bench.sh dashboard   the dashboard against a 1,000-node sim (scripts/bench_dashboard.py)
#   scripts/bench.sh load        200 signed-in users against it for 60 s (scripts/bench_load.py)
#   scripts/bench.sh scale       5,000 nodes x 8 GPUs, direct and through Prometheus (scripts/bench_scale.py)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-exporter}" in
  exporter) cargo bench -p gpuboard-exporter --bench exporter ;;
  dashboard) shift; exec python3 scripts/bench_dashboard.py "$@" ;;
  load) shift; exec python3 scripts/bench_load.py "$@" ;;
  scale) shift; exec python3 scripts/bench_scale.py "$@" ;;
  *) echo "usage: scripts/bench.sh [exporter|dashboard|load|scale]" >&2; exit 2 ;;
esac
