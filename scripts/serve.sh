#!/usr/bin/env bash
# Set up this host, build warren, and run `warren serve` with the embedded SQLite store.
#
#   sudo scripts/serve.sh [warren serve flags...]     e.g. --listen 0.0.0.0:7070
#
# First start prints the URL and an API key (also saved for the CLI in ~/.config/warren/).
# State lives in /var/lib/warren (or $WARREN_HOME). Stopping the daemon leaves sandboxes running.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-host.sh
scripts/build.sh
exec target/release/warren serve "$@"
