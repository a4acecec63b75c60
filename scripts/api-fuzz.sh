#!/usr/bin/env bash
# Fuzzes the JSON API with schemathesis (PyPI) from its own OpenAPI document
# (`/api/v1/openapi.json`), against the demo on loopback: every operation, with data that fits the
# document and data that does not, under every check but positive_data_acceptance (the document
# does not say every rule: a name must be a DNS label, say, so data that fits it may be refused).
# Fails on any failed check, and when the dashboard logged a panic.
# Usage: scripts/api-fuzz.sh [examples per operation, default 50]
#   GPUBOARD_BIN: the dashboard (default target/debug/gpuboard, as `cargo test` builds it);
#   GPUBOARD_FUZZ_SEED: schemathesis's seed (default 1; another seed tries other inputs).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-50}"
bin="${GPUBOARD_BIN:-target/debug/gpuboard}"
port="${GPUBOARD_FUZZ_PORT:-3108}"
state=.state/api-fuzz
base="http://127.0.0.1:$port"
schemathesis="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/schemathesis"

rm -rf "$state"
mkdir -p "$state"
"$bin" serve --demo --listen "127.0.0.1:$port" --demo-state-dir "$state" --demo-exporter-port 0 \
  > "$state/dashboard.log" 2>&1 &
dashboard=$!
trap 'kill "$dashboard" 2>/dev/null; wait "$dashboard" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "$base/healthz" > /dev/null && break
  kill -0 "$dashboard" 2>/dev/null || { cat "$state/dashboard.log"; echo "the demo did not start"; exit 1; }
  sleep 0.5
done
GPUBOARD_FUZZ_TOKEN="$(cat "$state/admin.token")"
export GPUBOARD_FUZZ_TOKEN

# One workload for the operations that read, follow or delete one by name (the token goes to
# curl in a file, not on its command line).
printf 'Authorization: Bearer %s\n' "$GPUBOARD_FUZZ_TOKEN" > "$state/authorization.header"
curl -sf -o /dev/null -H @"$state/authorization.header" -H 'Content-Type: application/json' \
  -d '{"kind": "Job", "name": "fuzz-target", "namespace": "ai", "image": "busybox", "gpus": 1, "command": ["sh", "-c", "echo hello"]}' \
  "$base/api/v1/workloads" || { echo "could not submit the workload the fuzzing reads"; exit 1; }

status=0
"$schemathesis" --no-color --config-file scripts/api-fuzz.toml run "$base/api/v1/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$examples" --seed "${GPUBOARD_FUZZ_SEED:-1}" --workers 2 \
  --generation-database none --report junit --report-dir "$state/report" || status=$?

if grep -n "panicked" "$state/dashboard.log"; then
  echo "the dashboard panicked during the fuzzing (log: $state/dashboard.log)"
  status=1
fi
exit "$status"
