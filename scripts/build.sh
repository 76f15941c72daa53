#!/usr/bin/env bash
# Build warren and its sandbox agent.
#
#   scripts/build.sh            # release build: target/release/warren + the static agent
#   scripts/build.sh --debug    # debug build of warren (the agent is always built optimised)
#
# The agent runs as PID 1 inside every sandbox, whatever libc the image has, so it is
# linked statically. The musl target cannot be fetched on our build hosts, so it is the
# glibc target with +crt-static; the explicit --target keeps these RUSTFLAGS off build
# scripts and proc-macros. The result lands in target/x86_64-unknown-linux-gnu/release/,
# where `warren` finds it (or set WARREN_AGENT_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
[[ "${1:-}" == "--debug" ]] && profile=debug

echo "==> building the sandbox agent (static)" >&2
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p warren-agent --target x86_64-unknown-linux-gnu

echo "==> building warren ($profile)" >&2
if [[ $profile == release ]]; then
    cargo build --release --locked -p warren
else
    cargo build --locked -p warren
fi
