#!/usr/bin/env bash
# Prepare a Debian 12 / Ubuntu host (as root) to run warren, and optionally its tests.
#
#   scripts/setup-host.sh                   # runtime needs: runc, iptables, CRIU >= 4, userns, overlay
#   scripts/setup-host.sh --with-test-deps  # also: docker-registry, skopeo, umoci, debootstrap, ...
#
# Options / environment:
#   --with-test-deps  | WARREN_TEST_DEPS=1   also install what the test suite needs
#   --skip-criu       | WARREN_SKIP_CRIU=1   do not check for / build CRIU
#   WARREN_CACHE_DIR (default /var/cache/warren)  where the CRIU source and built binary are kept
#
# Idempotent: a second run finds everything in place and finishes in a few seconds.
# CRIU: a distro `criu` is used when it is >= 4, `criu check` passes and it can dump a process
# with a TCP socket on this kernel (CRIU 4.1 cannot on Linux >= 6.16). Otherwise CRIU is built
# from Debian trixie's source package (criu_X.orig.tar.xz fetched through apt from a temporary
# deb-src entry, removed again afterwards), patched with scripts/criu/*.patch, and installed to
# /usr/local/sbin/criu.
set -euo pipefail

WITH_TEST_DEPS="${WARREN_TEST_DEPS:-0}"
SKIP_CRIU="${WARREN_SKIP_CRIU:-0}"
CACHE_DIR="${WARREN_CACHE_DIR:-/var/cache/warren}"
CRIU_MIN_MAJOR=4
CRIU_SRC_SUITE=trixie
CRIU_SOURCES_FILE=/etc/apt/sources.list.d/warren-criu-src.sources
CRIU_PATCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/criu"

for arg in "$@"; do
    case "$arg" in
        --with-test-deps) WITH_TEST_DEPS=1 ;;
        --skip-criu) SKIP_CRIU=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "setup-host.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

export DEBIAN_FRONTEND=noninteractive
log() { echo "==> $*"; }
warn() { echo "==> WARNING: $*" >&2; }
die() { echo "==> ERROR: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0 $*)"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian 12 / Ubuntu hosts"

started=$SECONDS

# --- packages ---------------------------------------------------------------------------------

RUNTIME_PKGS=(runc iptables iproute2 nftables uidmap e2fsprogs ca-certificates util-linux kmod procps)
TEST_PKGS=(docker-registry skopeo umoci debootstrap busybox-static jq curl python3 xz-utils zstd tmux python3-venv openssh-client openssl rsync chromium nodejs)
CRIU_BUILD_PKGS=(build-essential pkg-config xz-utils dpkg-dev patch
    protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev protobuf-compiler libnl-3-dev
    libnet1-dev libcap-dev libaio-dev libbsd-dev python3-protobuf libgnutls28-dev
    libnftables-dev uuid-dev)

APT_UPDATED=0
apt_update() {
    # Once per run at most; callers only get here when something has to be installed.
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

missing_pkgs() {
    local p status
    for p in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [[ "$status" == installed ]] || echo "$p"
    done
}

ensure_pkgs() {
    local missing
    mapfile -t missing < <(missing_pkgs "$@")
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    apt_update
    log "installing ${missing[*]}"
    local aptlog
    aptlog=$(mktemp)
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2
        rm -f "$aptlog"
        die "apt-get install ${missing[*]} failed"
    fi
    rm -f "$aptlog"
}

log "checking runtime packages"
ensure_pkgs "${RUNTIME_PKGS[@]}"
if [[ "$WITH_TEST_DEPS" == 1 ]]; then
    log "checking test packages"
    ensure_pkgs "${TEST_PKGS[@]}"
fi

# moto, an S3 server for warren-archive's tests (tests/s3.rs), in its own venv. Debian's python3
# (with python3-venv) rather than whatever python3 comes first in PATH.
MOTO_VENV=/opt/warren-test/moto
install_moto() {
    local py=/usr/bin/python3 piplog
    if "$MOTO_VENV/bin/moto_server" --help >/dev/null 2>&1; then
        log "moto ok: $MOTO_VENV/bin/moto_server"
        return 0
    fi
    [[ -x "$py" ]] || py=$(command -v python3) || die "python3 not found"
    log "installing moto[server] into $MOTO_VENV"
    rm -rf "$MOTO_VENV"
    mkdir -p "$(dirname "$MOTO_VENV")"
    "$py" -m venv "$MOTO_VENV" || die "$py -m venv $MOTO_VENV failed"
    piplog=$(mktemp)
    if ! "$MOTO_VENV/bin/pip" install --quiet 'moto[server]>=5,<6' >"$piplog" 2>&1; then
        tail -n 30 "$piplog" >&2
        rm -f "$piplog"
        die "pip install moto[server] into $MOTO_VENV failed"
    fi
    rm -f "$piplog"
    "$MOTO_VENV/bin/moto_server" --help >/dev/null 2>&1 || die "$MOTO_VENV/bin/moto_server does not run"
}
if [[ "$WITH_TEST_DEPS" == 1 ]]; then
    install_moto
fi

# The clients the test suite drives against a real daemon: Python packages pinned in
# tests/clients/requirements.txt (pytest, the e2b SDK, the mcp client, the SDK's own dependencies)
# in a venv of their own, and npm packages pinned in tests/clients/package-lock.json (the e2b JS
# SDK, playwright-core for the dashboard's browser tests) in tests/clients/node_modules. Each is
# reinstalled only when its pin file changes (a stamp holds the file's sha256).
CLIENTS_VENV=/opt/warren-test/clients
CLIENTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients"
install_client_python() {
    local req="$CLIENTS_DIR/requirements.txt" stamp="$CLIENTS_VENV/.requirements.sha256" want piplog
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [[ -x "$CLIENTS_VENV/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
        log "client python packages ok: $CLIENTS_VENV"
        return 0
    fi
    log "installing client python packages into $CLIENTS_VENV"
    rm -rf "$CLIENTS_VENV"
    mkdir -p "$(dirname "$CLIENTS_VENV")"
    /usr/bin/python3 -m venv "$CLIENTS_VENV" || die "python3 -m venv $CLIENTS_VENV failed"
    piplog=$(mktemp)
    if ! "$CLIENTS_VENV/bin/pip" install --quiet -r "$req" >"$piplog" 2>&1; then
        tail -n 30 "$piplog" >&2
        rm -f "$piplog"
        die "pip install -r $req failed"
    fi
    rm -f "$piplog"
    echo "$want" >"$stamp"
}
install_client_node() {
    local lock="$CLIENTS_DIR/package-lock.json" stamp="$CLIENTS_DIR/node_modules/.lock.sha256" want npmlog
    command -v npm >/dev/null || ensure_pkgs npm
    want=$(sha256sum "$lock" | cut -d' ' -f1)
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
        log "client npm packages ok: $CLIENTS_DIR/node_modules"
        return 0
    fi
    log "installing client npm packages into $CLIENTS_DIR/node_modules"
    npmlog=$(mktemp)
    if ! (cd "$CLIENTS_DIR" && npm ci --no-audit --no-fund) >"$npmlog" 2>&1; then
        tail -n 30 "$npmlog" >&2
        rm -f "$npmlog"
        die "npm ci in $CLIENTS_DIR failed"
    fi
    rm -f "$npmlog"
    echo "$want" >"$stamp"
}
if [[ "$WITH_TEST_DEPS" == 1 ]]; then
    install_client_python
    install_client_node
fi

# --- CRIU ---------------------------------------------------------------------------------------

# Prints the major version of the criu binary $1, or nothing.
criu_major() {
    "$1" --version 2>/dev/null | sed -n 's/^Version: *\([0-9]\+\)\..*/\1/p' | head -n1
}

criu_ok() {
    local bin=$1 major
    [[ -x "$bin" ]] || return 1
    major=$(criu_major "$bin")
    [[ -n "$major" && "$major" -ge $CRIU_MIN_MAJOR ]] || return 1
    "$bin" check >/dev/null 2>&1 || return 1
    criu_dumps_sockets "$bin"
}

# Error lines of the last failed criu_probe_dump, for the message that reports it; set to 1 when
# the failure was the probe's own (its process could not start), not criu's.
CRIU_PROBE_ERRORS=""
CRIU_PROBE_INCONCLUSIVE=0

# Can criu $1 dump (leaving it running) a perl process that, with $2 = socket, holds a TCP listener?
# The process says when it is ready through a file, so a slow start is not mistaken for a failure;
# a dump is tried three times. cgroups are left out (--manage-cgroups=ignore): runc hands CRIU the
# container's own cgroups, and the probe must not depend on the cgroup this script runs in.
criu_probe_dump() {
    local bin=$1 kind=$2 dir pid prelude="" try ok=1
    dir=$(mktemp -d)
    [[ "$kind" == socket ]] && prelude='use IO::Socket::INET;
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or die "listen: $!";'
    perl -e "$prelude"'
        open(my $f, ">", $ARGV[0]) or die "ready: $!"; close($f);
        while (1) { sleep 30 }' "$dir/ready" </dev/null >/dev/null 2>"$dir/perl.err" &
    pid=$!
    for _ in $(seq 100); do
        [[ -e "$dir/ready" ]] || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.05
    done
    if [[ ! -e "$dir/ready" ]]; then
        CRIU_PROBE_ERRORS="the probe process did not start: $(head -c 300 "$dir/perl.err")"
        CRIU_PROBE_INCONCLUSIVE=1
    else
        for try in 1 2 3; do
            rm -rf "$dir/img" && mkdir "$dir/img"
            if "$bin" dump -t "$pid" -D "$dir/img" --leave-running --shell-job \
                    --manage-cgroups=ignore -o dump.log >/dev/null 2>&1; then
                ok=0
                break
            fi
            CRIU_PROBE_ERRORS="attempt $try: $(grep -E '^\(?[0-9. ]*\)? *Error' "$dir/img/dump.log" 2>/dev/null | tail -n 5)"
            sleep 0.2
        done
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
    return $ok
}

# Can criu $1 dump a process holding a TCP listening socket on this kernel? (CRIU 4.1 cannot on
# Linux >= 6.16, which refuses SO_PASSCRED/SO_PASSSEC on non-Unix sockets; our patch fixes it.)
# When criu cannot dump even a process without sockets here, the probe cannot tell: say so and
# let the runtime tests speak.
criu_dumps_sockets() {
    local bin=$1 socket_errors
    criu_probe_dump "$bin" socket && return 0
    socket_errors=$CRIU_PROBE_ERRORS
    if [[ "$CRIU_PROBE_INCONCLUSIVE" == 1 ]] || ! criu_probe_dump "$bin" plain; then
        warn "the TCP-socket probe of $bin tells nothing here: $CRIU_PROBE_ERRORS"
        return 0
    fi
    CRIU_PROBE_ERRORS=$socket_errors
    return 1
}

remove_criu_src_entry() {
    if [[ -e "$CRIU_SOURCES_FILE" ]]; then
        rm -f "$CRIU_SOURCES_FILE"
        # Drop the trixie source index again so apt state is as we found it.
        apt-get update -qq >/dev/null 2>&1 || warn "apt-get update after removing $CRIU_SOURCES_FILE failed"
    fi
}

# Fetches the newest CRIU orig tarball from Debian's $CRIU_SRC_SUITE through apt (the mirror
# configured on this host, signature- and checksum-verified by apt) into $1; prints its path.
fetch_criu_source() {
    local dir=$1 uri mirror tarball
    # Reuse the host's configured Debian mirror rather than hard-coding one.
    uri=$(grep -rhoE '^(URIs:|deb) *\[?[^ ]*\]? *https?://[^ ]*debian/?( |$)' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
            | grep -oE 'https?://[^ ]+' | grep -v security | head -n1 || true)
    mirror=${uri:-http://deb.debian.org/debian}
    [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || ensure_pkgs debian-archive-keyring
    cat >"$CRIU_SOURCES_FILE" <<EOF
# Temporary entry added by warren's scripts/setup-host.sh to fetch CRIU's source; removed again.
Types: deb-src
URIs: ${mirror%/}
Suites: $CRIU_SRC_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    trap remove_criu_src_entry EXIT
    log "fetching CRIU source from $CRIU_SRC_SUITE ($mirror)" >&2
    apt-get update -qq >/dev/null 2>&1 || die "apt-get update with $CRIU_SOURCES_FILE failed"
    # The .dsc and debian.tar.xz may 404 on some mirrors/snapshots; only the orig tarball is needed,
    # and apt still downloads (and verifies) it, so ignore apt-get's exit status and check the file.
    (cd "$dir" && apt-get source --download-only -qq criu >/dev/null 2>&1) || true
    remove_criu_src_entry
    trap - EXIT
    tarball=$(find "$dir" -maxdepth 1 -name 'criu_*.orig.tar.*' | sort -V | tail -n1)
    [[ -n "$tarball" ]] || die "could not download criu_*.orig.tar.xz from Debian $CRIU_SRC_SUITE"
    echo "$tarball"
}

build_criu() {
    local src_cache="$CACHE_DIR/criu" tarball version build
    mkdir -p "$src_cache"
    tarball=$(find "$src_cache" -maxdepth 1 -name 'criu_*.orig.tar.*' | sort -V | tail -n1)
    if [[ -z "$tarball" ]]; then
        tarball=$(fetch_criu_source "$src_cache")
    else
        log "using cached CRIU source $tarball"
    fi
    version=$(basename "$tarball" | sed -E 's/^criu_(.*)\.orig\.tar\..*$/\1/')
    build="$src_cache/criu-$version"
    # Our patches (scripts/criu/*.patch) are part of the build's identity.
    patches=$(cat "$CRIU_PATCH_DIR"/*.patch 2>/dev/null | sha256sum | cut -c1-16)
    if [[ ! -x "$build/criu/criu" || "$(cat "$build/.warren-patches" 2>/dev/null)" != "$patches" ]]; then
        ensure_pkgs "${CRIU_BUILD_PKGS[@]}"
        log "building CRIU $version with warren's patches (about 15-60 s)"
        rm -rf "$build"
        mkdir -p "$build"
        tar -xf "$tarball" -C "$build" --strip-components=1
        for p in "$CRIU_PATCH_DIR"/*.patch; do
            [[ -e "$p" ]] || continue
            patch -d "$build" -p1 --quiet <"$p" || die "cannot apply $p to CRIU $version"
        done
        local t0=$SECONDS
        make -C "$build" -j"$(nproc)" criu >"$src_cache/build.log" 2>&1 \
            || { tail -n 40 "$src_cache/build.log" >&2; die "CRIU build failed (log: $src_cache/build.log)"; }
        echo "$patches" >"$build/.warren-patches"
        log "built CRIU $version in $((SECONDS - t0)) s"
    else
        log "using cached CRIU build $build/criu/criu"
        # The shared libraries it links against come with the -dev packages.
        ensure_pkgs "${CRIU_BUILD_PKGS[@]}"
    fi
    install -D -m 0755 "$build/criu/criu" /usr/local/sbin/criu
}

if [[ "$SKIP_CRIU" == 1 ]]; then
    log "skipping CRIU (--skip-criu)"
else
    existing=$(command -v criu || true)
    if [[ -n "$existing" ]] && criu_ok "$existing"; then
        log "CRIU ok: $existing $("$existing" --version | sed -n 's/^Version: *//p')"
    elif criu_ok /usr/local/sbin/criu; then
        log "CRIU ok: /usr/local/sbin/criu $(/usr/local/sbin/criu --version | sed -n 's/^Version: *//p')"
        [[ -z "$existing" || "$existing" == /usr/local/sbin/criu ]] \
            || warn "$existing (earlier in PATH) is older or broken; /usr/local/sbin should precede it"
    else
        if [[ -n "$existing" ]]; then
            log "CRIU at $existing is older than $CRIU_MIN_MAJOR, fails 'criu check' or cannot dump a TCP socket${CRIU_PROBE_ERRORS:+ ($CRIU_PROBE_ERRORS)}; building"
        else
            log "CRIU not found; building from source"
        fi
        build_criu
        if ! /usr/local/sbin/criu check >/dev/null 2>&1; then
            /usr/local/sbin/criu check >&2 || true
            die "/usr/local/sbin/criu check failed"
        fi
        # Not fatal: the probe runs outside any container, so an environment it does not foresee
        # could fail it while runc's checkpoints work; the runtime tests have the last word.
        criu_dumps_sockets /usr/local/sbin/criu \
            || warn "/usr/local/sbin/criu could not checkpoint a process with a TCP socket here, so hibernating sandboxes that hold one may fail: $CRIU_PROBE_ERRORS"
        log "CRIU ok: /usr/local/sbin/criu $(/usr/local/sbin/criu --version | sed -n 's/^Version: *//p')"
    fi
fi

# --- kernel features ------------------------------------------------------------------------------

SYSCTL_CONF=/etc/sysctl.d/90-warren.conf
persist_sysctl() {
    local key=$1 value=$2
    touch "$SYSCTL_CONF"
    sed -i "/^${key//./\\.} *=/d" "$SYSCTL_CONF"
    echo "$key = $value" >>"$SYSCTL_CONF"
}

if [[ -e /proc/sys/kernel/unprivileged_userns_clone ]] \
        && [[ $(cat /proc/sys/kernel/unprivileged_userns_clone) == 0 ]]; then
    log "enabling kernel.unprivileged_userns_clone"
    echo 1 >/proc/sys/kernel/unprivileged_userns_clone || die "cannot enable unprivileged_userns_clone"
    persist_sysctl kernel.unprivileged_userns_clone 1
fi
if [[ -e /proc/sys/user/max_user_namespaces ]] \
        && [[ $(cat /proc/sys/user/max_user_namespaces) -lt 1000 ]]; then
    log "raising user.max_user_namespaces to 15000"
    echo 15000 >/proc/sys/user/max_user_namespaces || die "cannot set user.max_user_namespaces"
    persist_sysctl user.max_user_namespaces 15000
fi
if ! unshare -U true 2>/dev/null; then
    die "cannot create a user namespace (unshare -U true failed); check kernel config and sysctls"
fi

if ! grep -qw overlay /proc/filesystems; then
    log "loading overlay module"
    modprobe overlay 2>/dev/null || true
    grep -qw overlay /proc/filesystems || die "overlayfs is not available (modprobe overlay failed)"
fi

if [[ ! -d /sys/fs/cgroup/memory && ! -e /sys/fs/cgroup/cgroup.controllers ]]; then
    warn "no cgroup memory controller found under /sys/fs/cgroup"
fi

log "host ready in $((SECONDS - started)) s (test deps: $([[ $WITH_TEST_DEPS == 1 ]] && echo yes || echo no))"
