#!/usr/bin/env bash
# Build (once, cached) the OCI test images that warren's integration tests push into a throwaway
# local registry. Layout and tags: scripts/fixtures/README.md.
#
#   scripts/test-fixtures.sh            build what is missing; print the fixtures directory last
#   scripts/test-fixtures.sh --verify   also start a loopback registry, push every fixture with
#                                       skopeo, `skopeo inspect` each one, and stop the registry
#   scripts/test-fixtures.sh --push HOST:PORT
#                                       also push every fixture to the registry at HOST:PORT (as
#                                       scripts/fixtures/README.md lists them), e.g. for the
#                                       warren-images registry tests (WARREN_TEST_REGISTRY)
#   scripts/test-fixtures.sh --rebuild  throw the built images away and build them again (the
#                                       cached Debian rootfs tarball is kept; delete it by hand)
#
# Environment:
#   WARREN_FIXTURES  output directory (default: <repo>/.cache/fixtures)
#
# Needs: umoci skopeo docker-registry busybox-static debootstrap jq curl
#        (scripts/setup-host.sh --with-test-deps installs them). Run as root (debootstrap, chown).
set -euo pipefail

# Bump when the content of an image changes, so cached images get rebuilt.
FIXTURES_VERSION=1

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
F=${WARREN_FIXTURES:-$REPO_ROOT/.cache/fixtures}
VERIFY=0
REBUILD=0
PUSH_TO=
while [[ $# -gt 0 ]]; do
    arg=$1; shift
    case "$arg" in
        --verify) VERIFY=1 ;;
        --push) PUSH_TO=${1:?--push needs HOST:PORT}; shift ;;
        --rebuild) REBUILD=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "test-fixtures.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

log() { echo "==> $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

for tool in umoci skopeo jq sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup-host.sh --with-test-deps"
done

PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p "$F/.stamps" "$F/.cache"
F=$(cd "$F" && pwd)

# Several test binaries may call this at once: one builds, the others wait and then find it cached.
exec 9>"$F/.lock"
flock 9

if [[ $REBUILD == 1 ]]; then
    rm -rf "$F/.stamps" "$F/busybox" "$F/busybox-zstd" "$F/python" "$F/multiarch" \
        "$F/busybox.docker-save.tar"
    mkdir -p "$F/.stamps"
fi

done_stamp() { [[ "$(cat "$F/.stamps/$1" 2>/dev/null)" == "$FIXTURES_VERSION" ]]; }
mark_done() { echo "$FIXTURES_VERSION" >"$F/.stamps/$1"; }

# Scratch space inside $F so the final `mv` is a rename on the same filesystem.
WORK=$(mktemp -d "$F/.tmp.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# Packs the directory tree $3 as the single layer of image $1:$2 (a fresh umoci image) and sets
# its config from the remaining `umoci config` arguments.
umoci_image_from_tree() {
    local layout=$1 tag=$2 tree=$3; shift 3
    [[ -d "$layout" ]] || umoci init --layout "$layout"
    umoci new --image "$layout:$tag"
    umoci unpack --image "$layout:$tag" "$WORK/bundle-$tag" >/dev/null
    # umoci's empty rootfs has mode 0700; give it the tree's contents and metadata.
    cp -a "$tree/." "$WORK/bundle-$tag/rootfs/"
    chmod 0755 "$WORK/bundle-$tag/rootfs"
    umoci repack --image "$layout:$tag" "$WORK/bundle-$tag"
    rm -rf "$WORK/bundle-$tag"
    umoci config --image "$layout:$tag" "$@"
}

# Minimal /etc files shared by the busybox images.
write_etc() {
    local root=$1
    mkdir -p "$root/etc" "$root/root" "$root/home/app" "$root/tmp" "$root/proc" "$root/sys" \
        "$root/dev" "$root/var/tmp"
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
    echo "warren-fixture" >"$root/etc/hostname"
    chmod 0700 "$root/root"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chown 1000:1000 "$root/home/app"
}

# --- busybox (gzip) -----------------------------------------------------------------------------
build_busybox() {
    [[ -x /bin/busybox ]] || die "/bin/busybox not found: apt-get install busybox-static"
    /bin/busybox true || die "/bin/busybox is not usable"
    log "building busybox"
    local root="$WORK/busybox-root" applet
    mkdir -p "$root/bin"
    cp /bin/busybox "$root/bin/busybox"
    # Every applet as a symlink at its canonical path (what `busybox --install -s` would do).
    while read -r applet; do
        [[ "$applet" == bin/busybox ]] && continue
        mkdir -p "$root/$(dirname "$applet")"
        ln -sf /bin/busybox "$root/$applet"
    done < <(/bin/busybox --list-full)
    write_etc "$root"
    umoci_image_from_tree "$WORK/busybox" latest "$root" \
        --config.env "$PATH_ENV" --config.cmd sh --config.workingdir / \
        --os linux --architecture amd64
    umoci gc --layout "$WORK/busybox"
    rm -rf "$F/busybox"
    mv "$WORK/busybox" "$F/busybox"
    mark_done busybox
}

# --- busybox-zstd -------------------------------------------------------------------------------
build_busybox_zstd() {
    log "building busybox-zstd"
    skopeo copy -q --dest-compress-format zstd \
        "oci:$F/busybox:latest" "oci:$WORK/busybox-zstd:latest"
    jq -e '.layers | all(.mediaType == "application/vnd.oci.image.layer.v1.tar+zstd")' \
        <"$WORK/busybox-zstd/blobs/sha256/$(jq -r '.manifests[0].digest' \
            "$WORK/busybox-zstd/index.json" | cut -d: -f2)" >/dev/null \
        || die "skopeo did not produce zstd layers"
    rm -rf "$F/busybox-zstd"
    mv "$WORK/busybox-zstd" "$F/busybox-zstd"
    mark_done busybox-zstd
}

# --- busybox.docker-save.tar -----------------------------------------------------------------
build_docker_save() {
    log "building busybox.docker-save.tar"
    skopeo copy -q "oci:$F/busybox:latest" "docker-archive:$WORK/busybox.docker-save.tar:busybox:latest"
    mv "$WORK/busybox.docker-save.tar" "$F/busybox.docker-save.tar"
    mark_done docker-save
}

# --- multiarch (image index: linux/amd64 busybox + linux/arm64 stub) -------------------------
# Writes JSON $2 into layout $1 as a blob; prints its digest.
put_blob() {
    local layout=$1 json=$2 digest
    digest=$(printf '%s' "$json" | sha256sum | cut -d' ' -f1)
    printf '%s' "$json" >"$layout/blobs/sha256/$digest"
    echo "sha256:$digest"
}

build_multiarch() {
    log "building multiarch"
    local layout="$WORK/multiarch" root="$WORK/arm64-root"
    cp -a "$F/busybox" "$layout"
    # Retag the busybox manifest as amd64.
    jq '.manifests[0].annotations["org.opencontainers.image.ref.name"] = "amd64"' \
        "$layout/index.json" >"$WORK/index.json" && mv "$WORK/index.json" "$layout/index.json"
    mkdir -p "$root/etc"
    echo "linux/arm64 stub image for warren's platform-resolution tests" >"$root/etc/arch"
    write_etc "$root"
    umoci_image_from_tree "$layout" arm64 "$root" \
        --config.env "$PATH_ENV" --config.cmd sh --config.workingdir / \
        --os linux --architecture arm64
    umoci gc --layout "$layout"
    local amd64 arm64 index idx_digest
    amd64=$(jq -c '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "amd64")
        | {mediaType, digest, size, platform: {architecture: "amd64", os: "linux"}}' "$layout/index.json")
    arm64=$(jq -c '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "arm64")
        | {mediaType, digest, size, platform: {architecture: "arm64", os: "linux", variant: "v8"}}' \
        "$layout/index.json")
    index=$(jq -cn --argjson a "$amd64" --argjson b "$arm64" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $b]}')
    idx_digest=$(put_blob "$layout" "$index")
    jq --arg d "$idx_digest" --argjson s "${#index}" \
        '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
          annotations: {"org.opencontainers.image.ref.name": "latest"}}]' \
        "$layout/index.json" >"$WORK/index.json" && mv "$WORK/index.json" "$layout/index.json"
    rm -rf "$F/multiarch"
    mv "$layout" "$F/multiarch"
    mark_done multiarch
}

# --- python (Debian bookworm minbase + python3) ----------------------------------------------
# The host's configured Debian mirror (never hard-coded), for debootstrap.
debian_mirror() {
    local uri
    uri=$(grep -rhoE '^(URIs:|deb) *\[?[^ ]*\]? *https?://[^ ]*debian/?( |$)' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
            2>/dev/null | grep -oE 'https?://[^ ]+' | grep -v security | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

python_rootfs_tar() {
    local tarball="$F/.cache/python-bookworm-rootfs.tar"
    if [[ -s "$tarball" ]]; then
        echo "$tarball"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap not found: run scripts/setup-host.sh --with-test-deps"
    local root="$WORK/debootstrap" mirror
    mirror=$(debian_mirror)
    log "debootstrap bookworm minbase + python3 from $mirror (about 35-60 s; cached afterwards)"
    debootstrap --variant=minbase --include=python3 bookworm "$root" "$mirror" \
        >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    if findmnt -rno TARGET | grep -q "^$root/"; then
        die "mounts left under $root after debootstrap"
    fi
    chroot "$root" useradd --create-home --uid 1000 --user-group --shell /bin/bash app
    # Look like a registry image: no device nodes, no caches, no docs.
    rm -rf "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/* "${root:?}"/run/* \
        "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/lib/apt/lists/* \
        "${root:?}"/usr/share/doc/* "${root:?}"/usr/share/man/* "${root:?}"/usr/share/locale/* \
        "${root:?}"/var/log/*.log "${root:?}"/var/cache/debconf/*-old
    tar --numeric-owner --xattrs -C "$root" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$root"
    echo "$tarball"
}

build_python() {
    local tarball root="$WORK/python-root" layout="$WORK/python"
    tarball=$(python_rootfs_tar)
    log "building python (latest, app)"
    mkdir -p "$root"
    tar --numeric-owner -xpf "$tarball" -C "$root"
    umoci_image_from_tree "$layout" latest "$root" \
        --config.env "$PATH_ENV" --config.env LANG=C.UTF-8 --config.cmd python3 \
        --config.workingdir / --os linux --architecture amd64
    rm -rf "$root"
    # Same manifest's layers, different config: User "app", WorkingDir /home/app.
    umoci config --image "$layout:latest" --tag app \
        --config.user app --config.workingdir /home/app
    umoci gc --layout "$layout"
    rm -rf "$F/python"
    mv "$layout" "$F/python"
    mark_done python
}

started=$SECONDS
for stamp in busybox busybox-zstd docker-save multiarch python; do
    if ! done_stamp "$stamp" && [[ $(id -u) -ne 0 ]]; then
        die "building the fixtures needs root (debootstrap, file ownership); run as root once"
    fi
done
done_stamp busybox || build_busybox
done_stamp busybox-zstd || build_busybox_zstd
done_stamp docker-save || build_docker_save
done_stamp multiarch || build_multiarch
done_stamp python || build_python

# --- pushing to, and verification against, a real registry ---------------------------------------
push_all() {
    local reg=$1
    push() { skopeo copy -q --dest-tls-verify=false "$@"; }
    push "oci:$F/busybox:latest" "docker://$reg/busybox:latest"
    push "oci:$F/busybox-zstd:latest" "docker://$reg/busybox-zstd:latest"
    push "oci:$F/python:latest" "docker://$reg/python:latest"
    push "oci:$F/python:app" "docker://$reg/python:app"
    push --all "oci:$F/multiarch:latest" "docker://$reg/multiarch:latest"
    push "docker-archive:$F/busybox.docker-save.tar" "docker://$reg/busybox-docker:latest"
}

verify() {
    command -v docker-registry >/dev/null || die "docker-registry not found: run scripts/setup-host.sh --with-test-deps"
    local port regdir="$WORK/registry" reg
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    reg=127.0.0.1:$port
    log "verifying: docker-registry on $reg"
    "$REPO_ROOT/scripts/fixtures/registry.sh" start "$regdir" "$port"
    # shellcheck disable=SC2064
    trap "'$REPO_ROOT/scripts/fixtures/registry.sh' stop '$regdir'; cleanup" EXIT
    push_all "$reg"

    raw() { skopeo inspect --tls-verify=false --raw "docker://$reg/$1"; }
    cfg() { skopeo inspect --tls-verify=false --config "docker://$reg/$1"; }
    raw busybox:latest | jq -e '.layers[0].mediaType | endswith("tar+gzip")' >/dev/null \
        || die "busybox: layer is not gzip"
    raw busybox-zstd:latest | jq -e '.layers[0].mediaType | endswith("tar+zstd")' >/dev/null \
        || die "busybox-zstd: layer is not zstd"
    raw multiarch:latest | jq -e '(.manifests | length) == 2
        and ([.manifests[].platform.architecture] | sort) == ["amd64", "arm64"]' >/dev/null \
        || die "multiarch: not an index of amd64+arm64"
    skopeo inspect --tls-verify=false --override-arch arm64 "docker://$reg/multiarch:latest" \
        | jq -e '.Architecture == "arm64"' >/dev/null || die "multiarch: arm64 instance not resolvable"
    cfg python:app | jq -e '.config.User == "app" and .config.WorkingDir == "/home/app"' >/dev/null \
        || die "python:app: wrong User/WorkingDir"
    cfg python:latest | jq -e '.config.Cmd == ["python3"] and (.config.User // "") == ""' >/dev/null \
        || die "python:latest: wrong config"
    cfg busybox:latest | jq -e '.config.Cmd == ["sh"] and .config.WorkingDir == "/"' >/dev/null \
        || die "busybox: wrong config"
    raw busybox-docker:latest | jq -e '.mediaType == "application/vnd.docker.distribution.manifest.v2+json"' \
        >/dev/null || die "busybox-docker: not a docker v2 manifest"
    local name
    for name in busybox:latest busybox-zstd:latest python:latest python:app multiarch:latest \
            busybox-docker:latest; do
        skopeo inspect --tls-verify=false "docker://$reg/$name" \
            | jq -r --arg n "$name" '"    \($n): \(.Architecture)/\(.Os) \(.Layers | length) layer(s) \(.Digest)"' >&2
    done
    log "all fixtures pushed to and inspected from $reg"
}
[[ $VERIFY == 1 ]] && verify
if [[ -n $PUSH_TO ]]; then
    log "pushing every fixture to $PUSH_TO"
    push_all "$PUSH_TO"
fi

log "fixtures ready in $((SECONDS - started)) s"
echo "$F"
