#!/usr/bin/env bash
# Builds the site the dashboard serves, into target/site/pkg: the Leptos app compiled to WASM with
# its `hydrate` feature, bound by wasm-bindgen (gpuboard.js, gpuboard.wasm), optimised by wasm-opt
# in release, and the stylesheet (gpuboard.css). These are the steps `cargo leptos build
# --frontend-only` takes, without installing cargo-leptos, which compiles for about 20 minutes on
# 2 cores; with it installed, `cargo leptos watch` serves the demo with live reload while developing.
#
# Usage: scripts/build-site.sh [--release]   (the tools come from scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dev
out_dir=debug
if [[ "${1:-}" == "--release" ]]; then
  profile=wasm-release   # opt-level z, LTO, one codegen unit, abort on panic (Cargo.toml)
  out_dir=wasm-release
fi
export PATH="$PWD/tools/node_modules/.bin:$PATH"   # npm's wasm-opt (scripts/setup.sh) before any other
pkg=target/site/pkg
mkdir -p "$pkg"
# Its own target dir, as cargo-leptos keeps one: the WASM build's features never unify with the
# server's, so neither build undoes the other.
cargo build -p frontend --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  --profile "$profile" --target-dir target/front
wasm-bindgen --target web --no-typescript --out-name gpuboard --out-dir "$pkg" \
  "target/front/wasm32-unknown-unknown/$out_dir/frontend.wasm"
# Leptos' hydration script loads <name>.wasm when the site's name is set at build time (.cargo/config.toml).
mv "$pkg/gpuboard_bg.wasm" "$pkg/gpuboard.wasm"
if [[ "$profile" == wasm-release ]]; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$pkg/gpuboard.wasm" -o "$pkg/gpuboard.wasm"
fi
cp style/main.css "$pkg/gpuboard.css"
echo "site built in $pkg ($profile): $(du -h "$pkg/gpuboard.wasm" | cut -f1) of WASM"
