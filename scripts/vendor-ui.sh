#!/usr/bin/env bash
# Refresh the third-party browser libraries of the web dashboard (served at /ui/) from npm:
# xterm.js (`@xterm/xterm`) and its fit addon (`@xterm/addon-fit`).
#
#   scripts/vendor-ui.sh                    # the versions in ui/vendor/VERSIONS again
#   scripts/vendor-ui.sh 6.0.0 0.11.0       # other versions (xterm, addon-fit)
#
# The files are committed: the build embeds them with include_bytes! and never downloads
# anything. Only what the page loads is copied (the ES module builds, the stylesheet) plus each
# package's LICENSE. `npm pack` only downloads the tarballs: no install scripts run.
# Afterwards run `cargo test -p warren --test dashboard_e2e`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/crates/warren-server/ui/vendor"
current() { sed -n "s/^$1 //p" "$dest/VERSIONS"; }
xterm="${1:-$(current @xterm/xterm)}"
fit="${2:-$(current @xterm/addon-fit)}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fetch() { # package version subdir
    (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null)
    mkdir -p "$tmp/$3"
    tar -xzf "$tmp"/xterm-"$3"-*.tgz -C "$tmp/$3"
    local got
    got="$(node -p 'require(process.argv[1]).version' "$tmp/$3/package/package.json")"
    if [ "$got" != "$2" ]; then
        echo "asked for $1 $2, npm gave $got" >&2
        exit 1
    fi
}
fetch @xterm/xterm "$xterm" xterm
fetch @xterm/addon-fit "$fit" addon-fit

mkdir -p "$dest"
cp "$tmp/xterm/package/lib/xterm.mjs" "$dest/xterm.mjs"
cp "$tmp/xterm/package/css/xterm.css" "$dest/xterm.css"
cp "$tmp/xterm/package/LICENSE" "$dest/xterm.LICENSE"
cp "$tmp/addon-fit/package/lib/addon-fit.mjs" "$dest/addon-fit.mjs"
cp "$tmp/addon-fit/package/LICENSE" "$dest/addon-fit.LICENSE"
# The builds end with a sourceMappingURL comment for files we do not ship.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest/xterm.mjs" "$dest/addon-fit.mjs"
printf '@xterm/xterm %s\n@xterm/addon-fit %s\n' "$xterm" "$fit" >"$dest/VERSIONS"
(cd "$dest" && sha256sum xterm.mjs xterm.css xterm.LICENSE addon-fit.mjs addon-fit.LICENSE >SHA256SUMS)
echo "vendored @xterm/xterm $xterm and @xterm/addon-fit $fit into ${dest#"$root"/}"
