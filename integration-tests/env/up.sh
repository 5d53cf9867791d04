#!/usr/bin/env bash
# Provisions this machine (Debian 12, as root) for the end-to-end tests: installs the packages,
# starts Docker Engine with BuildKit and the containerd image store, registers QEMU user
# emulation with binfmt_misc, starts a local registry on 127.0.0.1:5000, builds the base images
# from Debian packages (base-images.sh), and lays out the files the tests' own services use.
# Safe to run again: each step checks first.
#
# The tests start and stop their services themselves (integration-tests/src/services): the Go
# module proxies, the forward proxy, the private git server, sshd, the older engine and the
# build cache's object store run only while a test needs them, on ports the tests pick.
#
# Usage: up.sh [engine|tools|images [NAME...]|all|stop]
#   engine  packages, engine, buildx, binfmt, registry (what scripts/example needs)
#   tools   the files the tests' services and Wine use, and $GOAPP_STATE/env.json, which tells
#           the tests where they are: the module proxy's files, Debian 12's dockerd 20.10, a
#           current buildx, the arm64 engine, the DLLs Wine lacks, Debian 12's nginx (the HTTP
#           object store of a shared Go build cache)
#   images  base images (base-images.sh, which takes the same NAMEs)
#   all     engine, tools and the images the test suite uses (the default)
#   stop    stops what up.sh started, and removes whatever a killed test left behind
#
# Caches kept between runs on the same machine: the downloaded packages and the mmdebstrap
# tarballs (keyed on their contents) under $GOAPP_CACHE, and the registry's data.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
GOAPP_CACHE=${GOAPP_CACHE:-/var/cache/goapp-e2e}
GOAPP_STATE=${GOAPP_STATE:-/var/lib/goapp-e2e}
REGISTRY=${GOAPP_REGISTRY:-localhost:5000}
log_dir=$GOAPP_STATE/logs
mkdir -p "$GOAPP_CACHE" "$GOAPP_STATE" "$log_dir"

# The images the test suite uses (integration-tests/tests): both Go builders, every runtime
# base (the Windows ones too) and the SSH git server's image.
suite_images=(golang debian distroless alpine git-sshd windows)

# The layout of env.json; integration-tests/src/env.rs reads the same number.
ENV_FORMAT=4

say() { printf '[env] %s\n' "$*" >&2; }

# re_escape TEXT: TEXT as an extended regular expression that matches only itself.
re_escape() { sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"; }

# started_pids PIDFILE REGEX: the process up.sh started whose whole command line matches REGEX:
# the one in PIDFILE, or else those whose command line is exactly that. A process id reused by
# another program is never printed.
started_pids() {
  local pid matching
  matching=$(pgrep -f -x -- "$2" || true)
  pid=$(cat "$1" 2>/dev/null || true)
  if [ -n "$pid" ] && grep -qx -- "$pid" <<<"$matching"; then
    echo "$pid"
  else
    echo "$matching"
  fi
}

# stop_started PIDFILE REGEX NAME: ends what started_pids finds, waits for it to exit and
# removes the pidfile.
stop_started() {
  local pid
  for pid in $(started_pids "$1" "$2"); do
    say "stopping $3 ($pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then say "$3 ($pid) is still running"; fi
  done
  rm -f "$1"
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    say "this script installs packages and starts daemons: run it as root"
    exit 1
  fi
}

# --- Host provisioning -------------------------------------------------------------------

install_packages() {
  # (tinyproxy-bin is Debian's tinyproxy without its service: no system proxy gets started;
  # the tests run their own. wine64 is Debian 12's Wine 8.0, 64-bit only: see wine_files.)
  local want=(docker.io containerd docker-buildx docker-compose docker-registry mmdebstrap arch-test qemu-user-static git
    openssh-client tinyproxy-bin iptables wine64)
  local missing=0
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing=1
  done
  [ "$missing" = 0 ] && return 0
  local url
  url=$(archive_url)
  [ -n "$url" ] || { say "cannot find the Debian archive URL in /etc/apt"; exit 1; }
  say "adding trixie and bookworm-backports (pinned low) from $url"
  cat > /etc/apt/sources.list.d/goapp-e2e.sources <<SRC
Types: deb
URIs: $url
Suites: trixie bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat > /etc/apt/preferences.d/goapp-e2e <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100
PIN
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io/trixie containerd/trixie docker-buildx/trixie docker-cli/trixie docker-compose/trixie \
    qemu-user-static/bookworm-backports docker-registry mmdebstrap arch-test git openssh-client tinyproxy-bin \
    iptables wine64/bookworm >"$log_dir/apt.log" 2>&1 || { tail -n 40 "$log_dir/apt.log" >&2; exit 1; }
}

engine_up() { timeout 5 docker info >/dev/null 2>&1; }

start_engine() {
  if engine_up; then return 0; fi
  mkdir -p /etc/docker
  local cfg='{"features":{"containerd-snapshotter":true}}'
  if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$cfg" ]; then
    echo "$cfg" > /etc/docker/daemon.json
  fi
  if ! pgrep -x containerd >/dev/null; then
    say "starting containerd"
    nohup containerd >"$log_dir/containerd.log" 2>&1 &
    echo $! > "$GOAPP_STATE/containerd.pid"
    for _ in $(seq 1 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.2; done
  fi
  if ! pgrep -x dockerd >/dev/null; then
    say "starting dockerd"
    nohup dockerd --containerd=/run/containerd/containerd.sock >"$log_dir/dockerd.log" 2>&1 &
    echo $! > "$GOAPP_STATE/dockerd.pid"
  fi
  for _ in $(seq 1 100); do engine_up && return 0; sleep 0.3; done
  say "dockerd did not come up; its log:"; tail -n 40 "$log_dir/dockerd.log" >&2; exit 1
}

register_binfmt() {
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  local arch conf name
  for arch in aarch64 arm riscv64 ppc64le s390x; do
    conf=/usr/lib/binfmt.d/qemu-$arch.conf
    [ -f "$conf" ] || continue
    name=$(cut -d: -f2 "$conf")
    [ -e "/proc/sys/fs/binfmt_misc/$name" ] && continue
    grep -v '^#' "$conf" | head -n1 > /proc/sys/fs/binfmt_misc/register
  done
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { say "QEMU aarch64 is not registered"; exit 1; }
}

start_registry() {
  if curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1; then return 0; fi
  mkdir -p "$GOAPP_STATE/registry"
  cat > "$GOAPP_STATE/registry.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $GOAPP_STATE/registry
  delete:
    enabled: true
http:
  addr: ${REGISTRY/localhost/127.0.0.1}
CFG
  say "starting the registry on $REGISTRY"
  nohup docker-registry serve "$GOAPP_STATE/registry.yml" >"$log_dir/registry.log" 2>&1 &
  echo $! > "$GOAPP_STATE/registry.pid"
  for _ in $(seq 1 50); do curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && return 0; sleep 0.2; done
  say "the registry did not come up"; tail -n 20 "$log_dir/registry.log" >&2; exit 1
}

# --- Files for the tests' services ---------------------------------------------------------
# Each prints the path it made; nothing here runs anything.

# A Go module proxy made of files, in the GOPROXY layout (goproxy.py), in two groups: the modules
# of the examples, from Debian 12's golang-*-dev packages (goproxy-packages pins them), then
# Delve's (below), published beside them without changing a byte of theirs. The tests serve it
# over HTTP while they need it.
#
# Delve, for `go install github.com/go-delve/delve/cmd/dlv@latest`: Debian 13's delve 1.24.0-4
# (its orig tarball, from the archive's pool, which keeps it as long as Debian 13 is a release),
# the golang-*-dev packages of Debian 13 it builds with (goproxy-packages-delve; those of the
# first group are shared), and golang.org/x/telemetry, which cmd/dlv imports and Debian has no
# package of, as Debian 13's Go 1.24 sources vendor it for the go command. Debian's tarball has
# no eBPF object, nor the Go code bpf2go makes of it (pkg/proc/internal/ebpf/trace_bpfel_x86.*),
# which Debian's build makes with clang: delve_patch has that package build its stubs unless
# the tag delve_ebpf_objects is set. (Delve's eBPF tracing needs cgo: with CGO_ENABLED=0 nothing
# is lost; with cgo, `dlv trace --ebpf` says eBPF is disabled.)
DELVE_ORIG=pool/main/d/delve/delve_1.24.0.orig.tar.xz
DELVE_ORIG_SHA256=71687725248d5969ba8aa46e899ecccb90231b1b315c00e8e831bb23c9d7fc92
DELVE_MODULE=github.com/go-delve/delve@v1.24.0
DELVE_TELEMETRY=golang-1.24-src=1.24.4-1
delve_patch() {
  cat <<'PATCH'
--- a/pkg/proc/internal/ebpf/helpers.go
+++ b/pkg/proc/internal/ebpf/helpers.go
@@ -1 +1 @@
-//go:build linux && amd64 && go1.16
+//go:build linux && amd64 && go1.16 && delve_ebpf_objects
--- a/pkg/proc/internal/ebpf/helpers_disabled.go
+++ b/pkg/proc/internal/ebpf/helpers_disabled.go
@@ -1 +1 @@
-//go:build !linux || !amd64 || !go1.16
+//go:build !linux || !amd64 || !go1.16 || !delve_ebpf_objects
PATCH
}

# list_packages FILE: the PACKAGE=VERSION lines of a package list (no blank or # lines).
list_packages() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$1" | awk 'NF'; }

# proxy_debs PACKAGE=VERSION...: the paths of those packages in $GOAPP_CACHE/debs, one a line,
# downloaded first when missing (with this machine's apt lists, which up.sh engine gives
# Debian 13 too).
proxy_debs() {
  local debs=$GOAPP_CACHE/debs missing=() p file
  mkdir -p "$debs"
  for p in "$@"; do
    file="${p%%=*}_${p#*=}"
    ls "$debs/${file/:/%3a}"_*.deb >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "downloading ${#missing[@]} Go source packages"
    (cd "$debs" && apt-get download -qq "${missing[@]}" >"$log_dir/goproxy-apt.log" 2>&1) \
      || { tail -n 20 "$log_dir/goproxy-apt.log" >&2; exit 1; }
  fi
  for p in "$@"; do
    file="${p%%=*}_${p#*=}"
    ls "$debs/${file/:/%3a}"_*.deb
  done
}

# pool_file POOL_PATH SHA256: the path of a file of the Debian archive's pool (POOL_PATH as the
# archive's Sources index names it), downloaded from the archive this machine uses and kept in
# $GOAPP_CACHE/pool under its SHA-256, which it must have.
pool_file() {
  local dir=$GOAPP_CACHE/pool/$2 url
  local file=$dir/${1##*/}
  if [ ! -s "$file" ]; then
    url="$(archive_url)/$1"
    say "downloading $url"
    mkdir -p "$dir"
    curl -fsSL --retry 3 -o "$file.part" "$url" || { say "cannot download $url"; exit 1; }
    if [ "$(sha256sum "$file.part" | cut -d' ' -f1)" != "$2" ]; then
      say "$url is not the file expected (SHA-256 $2)"; rm -f "$file.part"; exit 1
    fi
    mv "$file.part" "$file"
  fi
  echo "$file"
}

module_proxy_files() {
  local list=$here/goproxy-packages delve_list=$here/goproxy-packages-delve
  local key
  key=$({ cat "$list" "$delve_list" "$here/goproxy.py"
    echo "$DELVE_ORIG $DELVE_ORIG_SHA256 $DELVE_MODULE $DELVE_TELEMETRY"; delve_patch; } | sha256sum | cut -c1-12)
  local dir=$GOAPP_STATE/goproxy-$key
  if [ ! -d "$dir" ]; then
    local out base delve telemetry orig
    # shellcheck disable=SC2046
    out=$(proxy_debs $(list_packages "$list")); mapfile -t base <<<"$out"
    # shellcheck disable=SC2046
    out=$(proxy_debs $(list_packages "$delve_list")); mapfile -t delve <<<"$out"
    telemetry=$(proxy_debs "$DELVE_TELEMETRY")
    orig=$(pool_file "$DELVE_ORIG" "$DELVE_ORIG_SHA256")
    say "making the Go module proxy's files"
    rm -rf "$dir.part"
    delve_patch > "$dir.patch"
    python3 "$here/goproxy.py" "$dir.part" "${base[@]}" \
      --group "${delve[@]}" --module-tarball "$orig=$DELVE_MODULE" \
      --vendored-module "$telemetry=golang.org/x/telemetry" --patch "${DELVE_MODULE%@*}=$dir.patch" \
      >"$log_dir/goproxy.log"
    rm -f "$dir.patch"
    mv "$dir.part" "$dir"
  fi
  echo "$dir"
}

# Debian 12's Docker 20.10 (BuildKit v0.8), unpacked from its package, for the test of how
# goapp refuses a BuildKit that lacks a capability. The test runs it beside the engine, with
# its own data, socket, bridge and containerd namespace.
old_engine_files() {
  local dir=$GOAPP_STATE/docker20
  mkdir -p "$dir/data" "$GOAPP_CACHE/debs/bookworm"
  if [ ! -x "$dir/bin/usr/sbin/dockerd" ]; then
    local deb
    deb=$(cd "$GOAPP_CACHE/debs/bookworm" && { ls docker.io_20.10.*.deb 2>/dev/null || { apt-get download -qq -o APT::Sandbox::User=root docker.io/bookworm >&2 && ls docker.io_20.10.*.deb; }; } | tail -n 1)
    [ -n "$deb" ] || { say "cannot download Debian 12's docker.io"; exit 1; }
    say "unpacking Debian 12's Docker 20.10"
    rm -rf "$dir/bin"
    mkdir -p "$dir/bin"
    dpkg-deb -x "$GOAPP_CACHE/debs/bookworm/$deb" "$dir/bin"
  fi
  echo "$dir"
}

# Debian 12's nginx (1.22, its WebDAV module built in), the binary alone, unpacked from its
# package: for the HTTP object store of a shared Go build cache (PUT and GET of files), which
# the tests run with a configuration of their own (integration-tests/src/services/cache_store.rs).
# Nothing of the package is installed: no maintainer script, no system service, no
# nginx-common. Its libraries (libc, libcrypt, libpcre2, libssl, zlib) are those of every
# Debian 12 system; `nginx -V` checks that they load. Unpacked under a name keyed on the .deb.
nginx_files() {
  local debs=$GOAPP_CACHE/debs/bookworm deb key dir
  mkdir -p "$debs"
  deb=$(cd "$debs" && { ls nginx_1.22.*.deb 2>/dev/null || { apt-get download -qq -o APT::Sandbox::User=root nginx/bookworm >&2 && ls nginx_1.22.*.deb; }; } | tail -n 1)
  [ -n "$deb" ] || { say "cannot download Debian 12's nginx"; exit 1; }
  key=$(sha256sum "$debs/$deb" | cut -c1-12)
  dir=$GOAPP_STATE/nginx-$key
  if [ ! -x "$dir/usr/sbin/nginx" ]; then
    say "unpacking Debian 12's nginx"
    rm -rf "$dir.part"
    mkdir -p "$dir.part"
    dpkg-deb -x "$debs/$deb" "$dir.part"
    local v
    v=$("$dir.part/usr/sbin/nginx" -V 2>&1) || true
    grep -q -- --with-http_dav_module <<<"$v" || { say "$deb's nginx does not run here, or lacks the WebDAV module:"; echo "$v" >&2; exit 1; }
    rm -rf "$dir"
    mv "$dir.part" "$dir"
  fi
  echo "$dir/usr/sbin/nginx"
}

# A current buildx beside Debian's (0.13.1, which lacks `--call`), for the tests of what newer
# buildx versions send: Debian unstable's build, unpacked as a CLI plugin under
# $GOAPP_STATE/buildx-current, which a test selects with DOCKER_CONFIG. The system's buildx is
# left as it is. The version is pinned; when unstable has moved on, its current one is used.
BUILDX_CURRENT=0.29.1+ds1-4
current_buildx_files() {
  local dir=$GOAPP_STATE/buildx-current plugin
  plugin=$dir/cli-plugins/docker-buildx
  if [ -x "$plugin" ] && DOCKER_CONFIG=$dir docker buildx version >/dev/null 2>&1; then echo "$dir"; return 0; fi
  local debs=$GOAPP_CACHE/debs/sid
  if ! ls "$debs"/docker-buildx_*.deb >/dev/null 2>&1; then
    say "downloading a current buildx from Debian unstable"
    # (lib.sh's sid_apt: apt's own lists stay as they are, unstable is known only to it.)
    local v
    v=$(sid_version docker-buildx "$BUILDX_CURRENT" 2>"$log_dir/buildx-apt.log") || true
    [ -n "$v" ] || { say "Debian unstable has no docker-buildx"; tail -n 20 "$log_dir/buildx-apt.log" >&2; exit 1; }
    sid_download "$debs" "docker-buildx=$v" >>"$log_dir/buildx-apt.log" 2>&1 \
      || { tail -n 20 "$log_dir/buildx-apt.log" >&2; exit 1; }
  fi
  rm -rf "$dir.part"
  mkdir -p "$dir.part/deb" "$dir.part/cli-plugins"
  dpkg-deb -x "$(ls "$debs"/docker-buildx_*.deb | tail -n 1)" "$dir.part/deb"
  mv "$dir.part/deb/usr/libexec/docker/cli-plugins/docker-buildx" "$dir.part/cli-plugins/"
  rm -rf "$dir.part/deb" "$dir"
  mv "$dir.part" "$dir"
  DOCKER_CONFIG=$dir docker buildx version >&2
  echo "$dir"
}

# An arm64 Docker Engine for the tests of an arm64 build machine: Debian's arm64 dockerd and
# containerd (trixie, as the engine's), unpacked from their packages (nothing of them runs
# under QEMU here) into a root the test chroots into; there they run under qemu-user, so
# BuildKit's own platform is linux/arm64. Containers are started by Debian's amd64 runc, put
# in the root with its libraries in place of the arm64 one: runc's arm64 build cannot start a
# container under qemu-user (its namespace setup fails: "waiting for init preliminary setup:
# read init-p: connection reset by peer"). What the containers run is their own platform's
# code as on any engine: arm64 steps under QEMU, amd64 ones natively. The root has QEMU's
# aarch64 emulator too, for the network hook the engine asks runc to run (see
# integration-tests/src/bin/goapp-e2e-runc.rs). Kept in the cache, keyed on its packages.
arm64_engine_packages="docker.io,containerd,runc,iptables"
arm64_engine_files() {
  local key root
  key=$(printf '%s\n' arm64-engine-v1 trixie "$arm64_engine_packages" amd64:runc | sha256sum | cut -c1-12)
  root=$GOAPP_CACHE/arm64-engine-$key
  mkdir -p "$GOAPP_STATE/arm64-engine-data"
  if [ ! -x "$root/usr/sbin/dockerd" ]; then
    say "unpacking Debian's arm64 Docker Engine"
    rm -rf "$root.part" "$root.amd64"
    mmdebstrap --quiet --variant=extract --architectures=arm64 --include="$arm64_engine_packages" trixie "$root.part" "$(archive_url)" \
      >"$log_dir/arm64-engine.log" 2>&1 || { tail -n 20 "$log_dir/arm64-engine.log" >&2; exit 1; }
    mmdebstrap --quiet --variant=extract --architectures=amd64 --include=runc trixie "$root.amd64" "$(archive_url)" \
      >>"$log_dir/arm64-engine.log" 2>&1 || { tail -n 20 "$log_dir/arm64-engine.log" >&2; exit 1; }
    cp -a "$root.amd64/usr/lib/x86_64-linux-gnu" "$root.part/usr/lib/"
    mkdir -p "$root.part/usr/lib64"
    cp -a "$root.amd64/usr/lib64/." "$root.part/usr/lib64/"
    cp "$root.amd64/usr/sbin/runc" "$root.part/usr/sbin/runc"
    rm -rf "$root.amd64"
    local d
    for d in bin sbin lib lib64; do [ -e "$root.part/$d" ] || ln -s "usr/$d" "$root.part/$d"; done
    cp /usr/bin/qemu-aarch64-static "$root.part/usr/bin/"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root.part/etc/hosts"
    mkdir -p "$root.part/proc" "$root.part/sys" "$root.part/run" "$root.part/var/lib/docker" "$root.part/etc/docker" "$root.part/goapp"
    mv "$root.part" "$root"
  fi
  echo "$root"
}

# Wine, for the tests that run the Windows programs they take out of an image (windows/amd64):
# Debian 12's wine64 (Wine 8.0), which has no `wine` command. The tests run its loader,
# /usr/lib/wine/wine64, and its server, /usr/lib/wine/wineserver, at these paths, with a prefix
# of their own and no display, this way:
#
#   export WINEPREFIX=$tmp/prefix HOME=$tmp TMPDIR=$tmp WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=;winemenubuilder.exe=d'
#   unset DISPLAY WAYLAND_DISPLAY
#   mkdir -p "$WINEPREFIX/drive_c/windows/system32" && cp "$wine_dlls"/*.dll "$WINEPREFIX/drive_c/windows/system32/"
#   /usr/lib/wine/wineserver -p                                        # a server that stays up
#   until [ -S "$tmp/$(cat "$WINEPREFIX/wineserver" 2>/dev/null)"/server-*/socket ]; do sleep 0.1; done
#   /usr/lib/wine/wine64 wineboot --init </dev/null >/dev/null 2>&1    # the prefix: 3 to 5 s, 700 MB
#   /usr/lib/wine/wine64 PROGRAM.exe ARG... </dev/null                 # 0.02 to 0.1 s each
#   /usr/lib/wine/wineserver -k && rm -rf "$tmp"
#
# Debian's Wine keeps the server's socket in a directory it makes under TMPDIR and names in
# the prefix's `wineserver` file; a loader started before both are there starts a second
# server. The program's exit status is wine64's. The server is started first and the prefix made with
# no output to the test's pipes: the processes Wine starts beside a program (services.exe,
# explorer.exe, ...) inherit its standard output and error, and whoever reads those to their
# end would wait seconds after the program for them. Debian's wineserver wrapper otherwise ends
# the server, and those processes, as soon as the last program has ended. (mscoree and mshtml
# off: no looking for Mono and Gecko; winemenubuilder off: no menu entries under $HOME.)
#
# Wine 8.0 has no bcryptprimitives.dll, which every Go program since Go 1.22 loads from
# system32 as it starts, for ProcessPrng ("fatal error: bcryptprimitives.dll not found"):
# wine_files makes one, the DLLs env.json's wine_dlls names. It has no code: its one export,
# ProcessPrng, is forwarded to advapi32's SystemFunction036 (RtlGenRandom), the same call (a
# buffer and its length; nonzero when the buffer is filled with random bytes).
WINE_LOADER=/usr/lib/wine/wine64
wine_files() {
  local dir=$GOAPP_STATE/wine-dlls
  [ -x "$WINE_LOADER" ] || { say "$WINE_LOADER is missing: run up.sh engine, which installs wine64"; exit 1; }
  mkdir -p "$dir"
  python3 - "$dir/bcryptprimitives.dll" <<'PY'
import os, struct, sys
out = sys.argv[1]
# A PE32+ DLL for x86-64: the headers, then one section (at RVA 0x1000) that is the export
# directory, its tables and its strings. An export whose address lies inside the directory is
# a forwarder: the loader reads it as DLL.FUNCTION and resolves that instead.
RVA, ALIGN = 0x1000, 0x200
strings = [b"bcryptprimitives.dll\0", b"ProcessPrng\0", b"advapi32.SystemFunction036\0"]
tables = RVA + 40
name, function = tables + 10, tables + 10 + len(strings[0])
forward = function + len(strings[1])
exports = struct.pack("<IIHHIIIIIII", 0, 0, 0, 0, name, 1, 1, 1, tables, tables + 4, tables + 8)
exports += struct.pack("<IIH", forward, function, 0) + b"".join(strings)
coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 240, 0x2022)  # x86-64, one section, a DLL
optional = struct.pack(
    "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
    0x20B, 0, 0, 0, ALIGN, 0, 0, RVA,  # PE32+, no code and no entry point
    0x180000000, RVA, ALIGN, 6, 0, 0, 0, 6, 0, 0,
    2 * RVA, ALIGN, 0, 3, 0x100,  # console, NX: nothing to relocate
    0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
optional += struct.pack("<II", RVA, len(exports)) + bytes(8 * 15)
section = struct.pack("<8sIIIIIIHHI", b".edata", len(exports), RVA, ALIGN, ALIGN, 0, 0, 0, 0, 0x40000040)
headers = b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\0\0" + coff + optional + section
with open(out + ".part", "wb") as f:
    f.write(headers.ljust(ALIGN, b"\0") + exports.ljust(ALIGN, b"\0"))
os.replace(out + ".part", out)
PY
  echo "$dir"
}

# tools: the files above, and $GOAPP_STATE/env.json, the one file the tests read
# (integration-tests/src/env.rs has its fields).
tools() {
  local goproxy old buildx arm64 wine nginx
  goproxy=$(module_proxy_files)
  old=$(old_engine_files)
  buildx=$(current_buildx_files)
  arm64=$(arm64_engine_files)
  wine=$(wine_files)
  nginx=$(nginx_files)
  python3 - "$GOAPP_STATE/env.json" "$ENV_FORMAT" "$REGISTRY" "$goproxy" "$old/bin/usr/sbin/dockerd" "$old/data" "$buildx" \
    "$arm64" "$GOAPP_STATE/arm64-engine-data" "$wine" "$nginx" <<'PY'
import json, os, sys
out, fmt, registry, goproxy, dockerd, data, buildx, arm64_root, arm64_data, wine_dlls, nginx = sys.argv[1:]
env = {
    "format": int(fmt),
    "registry": registry,
    "module_proxy_files": goproxy,
    "old_dockerd": dockerd,
    "old_engine_data": data,
    "current_buildx_config": buildx,
    "arm64_engine_root": arm64_root,
    "arm64_engine_data": arm64_data,
    "wine_dlls": wine_dlls,
    "nginx": nginx,
}
with open(out + ".part", "w") as f:
    json.dump(env, f, indent=2)
    f.write("\n")
os.replace(out + ".part", out)
PY
  say "the tests' files are ready ($GOAPP_STATE/env.json)"
}

# --- Stopping ------------------------------------------------------------------------------

# stop: stops what up.sh started (the processes identified by their pidfiles, or by exactly the
# command line up.sh starts them with), and removes what a test binary killed before its
# services' guards ran may have left: its containers (labelled goapp-e2e.owner), its firewall
# rules (commented goapp-e2e), the arm64 engine's processes and the engines' bridges. The
# images, caches and registry data stay.
stop() {
  need_root
  if engine_up; then
    local ids
    ids=$(docker ps -aq --filter label=goapp-e2e.owner)
    if [ -n "$ids" ]; then
      say "removing the tests' leftover containers"
      # shellcheck disable=SC2086
      docker rm -f $ids >/dev/null
    fi
  fi
  local rule table
  for table in filter nat; do
    while rule=$(iptables -t "$table" -S 2>/dev/null | grep -m1 -- '--comment goapp-e2e'); do
      say "removing a leftover firewall rule: $rule"
      # shellcheck disable=SC2086
      iptables -t "$table" ${rule/-A/-D}
    done
  done
  # The arm64 engine's processes (they run in its root), then the engines' bridges.
  local p root
  for p in /proc/[0-9]*; do
    root=$(readlink "$p/root" 2>/dev/null) || continue
    case "$root" in "$GOAPP_CACHE"/arm64-engine-*)
      say "stopping a leftover process of the arm64 engine (${p#/proc/})"
      kill -9 "${p#/proc/}" 2>/dev/null || true ;;
    esac
  done
  for p in goapp20 goapparm64; do
    if ip link show "$p" >/dev/null 2>&1; then
      say "removing the leftover bridge $p"
      ip link del "$p"
    fi
  done
  stop_started "$GOAPP_STATE/dockerd.pid" "dockerd --containerd=/run/containerd/containerd\.sock" "dockerd"
  stop_started "$GOAPP_STATE/containerd.pid" "containerd" "containerd"
  stop_started "$GOAPP_STATE/registry.pid" "docker-registry serve $(re_escape "$GOAPP_STATE/registry.yml")" "the registry"
  say "stopped"
}

engine() {
  need_root
  install_packages
  start_engine
  register_binfmt
  start_registry
  docker buildx inspect default >/dev/null
  say "engine, buildx, binfmt and registry are up"
}

case "${1:-all}" in
  engine) engine ;;
  tools) need_root; tools ;;
  images) shift; "$here/base-images.sh" "$@" ;;
  all) engine; tools; "$here/base-images.sh" "${suite_images[@]}" ;;
  stop) stop ;;
  *) echo "usage: $0 [engine|tools|images [NAME...]|all|stop]" >&2; exit 2 ;;
esac
