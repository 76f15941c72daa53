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

# A registry on loopback holding every fixture, for warren-images' own pull tests (the
# end-to-end tests start registries of their own). Stopped when this script exits.
registry_dir=$(mktemp -d /tmp/warren-test-registry.XXXXXX)
registry_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/fixtures/registry.sh start "$registry_dir" "$registry_port"
trap 'scripts/fixtures/registry.sh stop "$registry_dir"; rm -rf "$registry_dir"' EXIT
scripts/test-fixtures.sh --push "127.0.0.1:$registry_port" >/dev/null
export WARREN_TEST_REGISTRY="127.0.0.1:$registry_port"

echo "==> building the static agent" >&2
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p warren-agent --target x86_64-unknown-linux-gnu
WARREN_AGENT_BIN="$PWD/target/x86_64-unknown-linux-gnu/release/warren-agent"
export WARREN_AGENT_BIN

echo "==> cargo fmt --check" >&2
cargo fmt --all -- --check
echo "==> cargo clippy" >&2
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "==> cargo doc" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --quiet

echo "==> tests" >&2
# The end-to-end tests need the sandbox machinery (root, runc); make their absence an error
# here rather than a silent skip.
export WARREN_REQUIRE_E2E=1
cargo test --locked --workspace -- --test-threads=2
