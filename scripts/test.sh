#!/usr/bin/env bash
# Run warren's whole test suite on this host, installing everything it needs first.
#
#   sudo scripts/test.sh
#
# Steps: host packages + CRIU (scripts/setup-host.sh --with-test-deps) → test images, built
# once and cached (scripts/test-fixtures.sh) → the static agent → format and lint checks →
# every crate's unit, integration and end-to-end tests (real runc, a real registry on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-host.sh --with-test-deps
WARREN_FIXTURES="$(scripts/test-fixtures.sh)"
export WARREN_FIXTURES

echo "==> building the static agent" >&2
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p warren-agent --target x86_64-unknown-linux-gnu
WARREN_AGENT_BIN="$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent"
export WARREN_AGENT_BIN

echo "==> cargo fmt --check" >&2
cargo fmt --all -- --check
echo "==> cargo clippy" >&2
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> tests" >&2
# The end-to-end tests need the sandbox machinery (root, runc); make their absence an error
# here rather than a silent skip.
export WARREN_REQUIRE_E2E=1
cargo test --locked --workspace -- --test-threads=2
