#!/usr/bin/env bash
# Refresh the Swagger UI that `warren serve` shows at /docs, from npm's `swagger-ui-dist`.
#
#   scripts/vendor-swagger-ui.sh            # the version in assets/swagger-ui/VERSION again
#   scripts/vendor-swagger-ui.sh 5.36.0     # another version
#
# The files are committed: the build embeds them with include_bytes! and never downloads
# anything. Only what the page needs is copied (the bundle, its stylesheet, and the licence
# files that must travel with them); index.html, index.css and swagger-initializer.js in the
# same folder are warren's own and are left alone. `npm pack` only downloads the tarball: no
# install scripts run. Afterwards run `cargo test -p warren-server --test openapi` and look at
# /docs in a browser.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/crates/warren-server/assets/swagger-ui"
version="${1:-$(cat "$dest/VERSION")}"
files=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tar -xzf "$tmp"/swagger-ui-dist-*.tgz -C "$tmp"
got="$(node -p 'require(process.argv[1]).version' "$tmp/package/package.json")"
if [ "$got" != "$version" ]; then
    echo "asked for swagger-ui-dist $version, npm gave $got" >&2
    exit 1
fi

for f in "${files[@]}"; do
    cp "$tmp/package/$f" "$dest/$f"
done
echo "$version" >"$dest/VERSION"
(cd "$dest" && sha256sum "${files[@]}" >SHA256SUMS)
echo "vendored swagger-ui-dist $version into ${dest#"$root"/}"
