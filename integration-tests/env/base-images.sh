#!/usr/bin/env bash
# Builds the base images the examples and tests use from Debian packages and pushes them, as
# multi-platform indexes (linux/amd64 and linux/arm64), to the local registry, beside stand-ins
# for Microsoft's Windows bases (windows/amd64). No image comes from a public registry: these
# are stand-ins published under the names the specs use, behind the registry mirror setting
# (GOAPP_REGISTRY_MIRROR=localhost:5000 maps docker.io/library/golang:1.27 to
# localhost:5000/library/golang:1.27).
#
# Usage: base-images.sh [NAME...]
# With no NAME, builds every image. A NAME is a family of images or one image of it:
#   golang                every Go builder: golang:X.Y and golang:X.Y-bookworm for each release
#                         listed in ./go-releases
#   golang:X.Y            one Go release (golang:X.Y-bookworm is the same image, so either name
#                         builds both tags)
#   debian                debian:bookworm-slim (also accepted: debian:bookworm-slim)
#   distroless            gcr.io/distroless/{static,base,cc}-debian12:nonroot, or one of them:
#                         distroless/static, distroless/base, distroless/cc
#   alpine                alpine:3.20 (also accepted: alpine:3.20)
#   git-sshd              e2e/git-sshd:1, the image of the tests' SSH git server
#   windows               mcr.microsoft.com/windows/{nanoserver,servercore}:ltsc2022, or one of
#                         them: nanoserver, servercore (also accepted: nanoserver:ltsc2022,
#                         servercore:ltsc2022)
#
# Environment: GOAPP_BUILDER_ARCHES (default "amd64 arm64"), the platforms of the Go builders;
# GOAPP_CACHE (default /var/cache/goapp-e2e), GOAPP_STATE (default /var/lib/goapp-e2e, for the
# logs), GOAPP_REGISTRY (default localhost:5000).
#
# Tarballs are cached under $GOAPP_CACHE, keyed on everything that goes into them; a pushed
# image whose key is unchanged is not rebuilt. Each Go builder says its Go in GOLANG_VERSION
# (checked against what its go command reports), where the tests read it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
umask 022

here=$(cd "$(dirname "$0")" && pwd)
GOAPP_CACHE=${GOAPP_CACHE:-/var/cache/goapp-e2e}
GOAPP_STATE=${GOAPP_STATE:-/var/lib/goapp-e2e}
REGISTRY=${GOAPP_REGISTRY:-localhost:5000}
log_dir=$GOAPP_STATE/logs
mkdir -p "$GOAPP_CACHE" "$log_dir"
say() { printf '[images] %s\n' "$*" >&2; }

std_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
base_arches="amd64 arm64"
builder_arches=${GOAPP_BUILDER_ARCHES:-amd64 arm64}

# The Go releases: "X.Y DEBIAN-VERSION" lines of ./go-releases.
go_releases=$(grep -Ev '^[[:space:]]*(#|$)' "$here/go-releases")

# --- Which images to build ---------------------------------------------------------------

wanted=()
usage() { sed -n '/^# Usage:/,/^# Environment:/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
for name in "$@"; do
  case "$name" in
    golang | debian | debian:bookworm-slim | distroless | distroless/static | distroless/base | \
      distroless/cc | alpine | alpine:3.20 | git-sshd | windows | nanoserver | servercore | \
      nanoserver:ltsc2022 | servercore:ltsc2022) wanted+=("$name") ;;
    golang:*)
      release=${name#golang:}
      release=${release%-bookworm}
      awk -v r="$release" '$1 == r {found=1} END {exit !found}' <<<"$go_releases" \
        || { say "$name: not a release in $here/go-releases"; usage; }
      wanted+=("golang:$release")
      ;;
    *) say "unknown image: $name"; usage ;;
  esac
done

# want NAME...: whether one of these names was asked for (everything is, with no argument).
want() {
  [ "${#wanted[@]}" = 0 ] && return 0
  local n w
  for n in "$@"; do
    for w in "${wanted[@]}"; do [ "$n" = "$w" ] && return 0; done
  done
  return 1
}

# --- Building blocks ---------------------------------------------------------------------

have_ref() { docker buildx imagetools inspect "$1" >/dev/null 2>&1; }

# make_tar TAR ARCH SUITE VARIANT PACKAGES HOOK: makes the root file system tarball TAR with
# mmdebstrap, unless it is there already. VARIANT extract: the packages are only extracted, and
# HOOK builds the root ($2) from the extracted files ($1) here, outside mmdebstrap; otherwise
# HOOK is a customize hook run by mmdebstrap.
make_tar() {
  local tar=$1 arch=$2 suite=$3 variant=$4 packages=$5 hook=$6
  [ -s "$tar" ] && return 0
  local t0=$SECONDS
  say "mmdebstrap $(basename "$tar") ($suite, $variant, $arch)"
  if [ "$variant" = extract ]; then
    mmdebstrap --quiet --format=tar --variant=extract --architectures="$arch" \
      --include="$packages" "$suite" "$tar.raw" "$(archive_url)"
    local work
    work=$(mktemp -d)
    mkdir "$work/in" "$work/out"
    tar -C "$work/in" -xf "$tar.raw"
    sh -ec "$hook" sh "$work/in" "$work/out"
    tar -C "$work/out" --numeric-owner -cf "$tar.part" .
    rm -rf "$work" "$tar.raw"
  else
    mmdebstrap --quiet --format=tar --variant="$variant" --architectures="$arch" \
      ${packages:+--include="$packages"} \
      ${hook:+--customize-hook="$hook"} \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
      "$suite" "$tar.part" "$(archive_url)"
  fi
  mv "$tar.part" "$tar"
  say "  $(basename "$tar") took $((SECONDS - t0)) s"
}

# build_image REPO TAG "ARCHES" SUITE VARIANT "PACKAGES" HOOK INSTRUCTION...
# Each INSTRUCTION is a Dockerfile line for the image config (ENV, USER, WORKDIR, CMD).
build_image() {
  local repo=$1 tag=$2 arches=$3 suite=$4 variant=$5 packages=$6 hook=$7
  shift 7
  local instructions=("$@")
  local key
  # (Written so that images made before SUITE and non-ENV instructions existed keep their key.)
  local key_extra=()
  [ "$suite" = trixie ] || key_extra=("$suite")
  [ "$variant" = extract ] && key_extra+=("extract-hook")
  key=$(printf '%s\n' "v1" "${key_extra[@]}" "$variant" "$packages" "$hook" "${instructions[@]#ENV }" | sha256sum | cut -c1-12)
  local refs=()
  local arch
  for arch in $arches; do
    local ref="$REGISTRY/$repo:$tag-$arch-$key"
    refs+=("$ref")
    if have_ref "$ref"; then continue; fi
    local tar="$GOAPP_CACHE/${repo//\//_}-$tag-$arch-$key.tar"
    make_tar "$tar" "$arch" "$suite" "$variant" "$packages" "$hook"
    local changes=()
    local i
    for i in "${instructions[@]}"; do changes+=(-c "$i"); done
    docker import --platform "linux/$arch" "${changes[@]}" "$tar" "$ref" >/dev/null
    docker push -q "$ref" >/dev/null
  done
  docker buildx imagetools create -t "$REGISTRY/$repo:$tag" "${refs[@]}" >/dev/null 2>&1
  say "$REGISTRY/$repo:$tag ready ($arches)"
}

# --- Runtime bases, for both platforms -----------------------------------------------------
# Only `debian` runs maintainer scripts (under QEMU for arm64); the others are extracted from
# packages and assembled by the hooks below, which run on this machine, so they need no
# emulation.

# The distroless-like stand-ins are assembled from extracted packages (extraction pulls in
# every dependency, such as openssl for ca-certificates): their root ($2) gets only what the
# image it stands for has. KEEP names what else of the extracted files ($1) it keeps.
# Every stand-in gets: the CA bundle (what update-ca-certificates would write), zoneinfo,
# /etc/os-release, netbase's services and protocols, passwd and group with root, nobody and
# nonroot (65532), /tmp (1777), nonroot's home.
assemble='r="$1"; n="$2"
keep() { for k in "$@"; do if [ -e "$r/$k" ] || [ -L "$r/$k" ]; then mkdir -p "$n/$(dirname "$k")" && cp -a "$r/$k" "$n/$k"; fi; done; }
mkdir -p "$n"/etc/ssl/certs "$n"/tmp "$n"/root "$n"/home/nonroot
cat "$r"/usr/share/ca-certificates/mozilla/*.crt > "$n"/etc/ssl/certs/ca-certificates.crt
keep usr/share/zoneinfo usr/lib/os-release etc/os-release etc/services etc/protocols $KEEP
printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" > "$n"/etc/passwd
printf "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n" > "$n"/etc/group
printf "hosts: files dns\n" > "$n"/etc/nsswitch.conf
chmod 755 "$n" && chmod 1777 "$n"/tmp && chmod 700 "$n"/root "$n"/home/nonroot && chown 65532:65532 "$n"/home/nonroot
rm -rf "$n"/usr/lib/*/gconv "$n"/usr/lib/*/perl* "$n"/usr/lib/*/engines-3 "$n"/usr/lib/*/ossl-modules'
distroless_config=("ENV PATH=$std_path" "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" "USER 65532" "WORKDIR /home/nonroot")
static_pkgs="base-files,netbase,tzdata,ca-certificates"
# glibc and the libraries of distroless/base and /cc: the library directories, less what
# only openssl's command and the package tools use.
libs="lib lib64 usr/lib/x86_64-linux-gnu usr/lib/aarch64-linux-gnu"

# A stand-in for alpine:3.20: BusyBox with its applets linked, root and nobody, a CA bundle
# and no zoneinfo, as Alpine has. Its C library is glibc's static build inside busybox-static,
# not musl: Go programs built with CGO_ENABLED=0 do not notice.
alpine_files='KEEP=bin/busybox && '"$assemble"' && r="$2"
for a in sh ash cat ls cp mv rm mkdir echo env grep sed ps sleep id wget vi tar gzip date hostname; do ln -sf /bin/busybox "$r"/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n" > "$r"/etc/passwd
printf "root:x:0:root\nnobody:x:65534:\n" > "$r"/etc/group
rm -rf "$r"/home/nonroot "$r"/etc/os-release
printf "NAME=\"Alpine stand-in (BusyBox from Debian)\"\nID=alpine\nVERSION_ID=3.20\n" > "$r"/etc/os-release'

# --- Windows bases, for windows/amd64 -----------------------------------------------------
# Stand-ins for mcr.microsoft.com/windows/{nanoserver,servercore}:ltsc2022, goapp's named
# Windows bases, which cannot be pulled here: one layer in the Windows layer format with the
# directories of a Windows container and a README, and no programs (windows-layer.py; what the
# tests run of a Windows image, Wine runs on this machine). They are published as Microsoft's
# are: an index whose one entry names windows/amd64 with its os.version (the build of Windows
# Server 2022 they stand for, in the config too), and with the config Microsoft's have: cmd.exe
# as Cmd, no Env (a Windows container's PATH is in its registry hives, not in the config), and
# ContainerUser as the User of nanoserver only (servercore runs as ContainerAdministrator, the
# default).
windows_os_version=10.0.20348.2849

# windows_image EDITION [USER]: the stand-in for mcr.microsoft.com/windows/EDITION:ltsc2022,
# pushed as ltsc2022-KEY (its key: the scripts that make it and their arguments) unless it is
# there, and tagged ltsc2022. Its tarball (a few kilobytes, made in no time) is not kept.
windows_image() {
  local edition=$1 user=${2:-} repo=mcr.microsoft.com/windows/$1
  local layer_args=(--edition "$edition" --os-version "$windows_os_version")
  local push_args=(--platform windows/amd64 --os-version "$windows_os_version" --index
    --cmd 'c:\windows\system32\cmd.exe' ${user:+--user "$user"})
  local key ref tar
  key=$({ echo windows-v1; cat "$here/windows-layer.py" "$here/oci-push.py"
    printf '%s\n' "${layer_args[@]}" "${push_args[@]}"; } | sha256sum | cut -c1-12)
  ref=$REGISTRY/$repo:ltsc2022-$key
  if ! have_ref "$ref"; then
    say "making $repo:ltsc2022 ($edition, $windows_os_version)"
    tar=$GOAPP_CACHE/windows-$edition-$key.tar
    python3 "$here/windows-layer.py" "$tar" "${layer_args[@]}"
    python3 "$here/oci-push.py" "$ref" --layer "$tar" "${push_args[@]}" \
      --comment "A stand-in for Microsoft's Windows $edition, made by windows-layer.py" >/dev/null
    rm -f "$tar" "$tar.gz" "$tar.gz.json"
  fi
  # (An index that is the only source is tagged as it is: its entry keeps its os.version.)
  docker buildx imagetools create -t "$REGISTRY/$repo:ltsc2022" "$ref" >/dev/null 2>&1
  say "$REGISTRY/$repo:ltsc2022 ready (windows/amd64, $windows_os_version)"
}

# runtime_images: the runtime bases and the SSH git server that were asked for (run as a
# lane of its own, beside the Go builders).
runtime_images() {
  # debian:bookworm-slim: Debian's minbase, as the official image is made.
  if want debian debian:bookworm-slim; then
    build_image library/debian bookworm-slim "$base_arches" bookworm minbase "" "" \
      "ENV PATH=$std_path" 'CMD ["bash"]'
  fi

  # Stand-ins for gcr.io/distroless/{static,base,cc}-debian12:nonroot, made from the Debian 12
  # packages those images are made of.
  if want distroless distroless/static; then
    build_image gcr.io/distroless/static-debian12 nonroot "$base_arches" bookworm extract \
      "$static_pkgs" "KEEP= && $assemble" "${distroless_config[@]}"
  fi
  if want distroless distroless/base; then
    build_image gcr.io/distroless/base-debian12 nonroot "$base_arches" bookworm extract \
      "$static_pkgs,libc6,libssl3" "KEEP='$libs' && $assemble" "${distroless_config[@]}"
  fi
  if want distroless distroless/cc; then
    build_image gcr.io/distroless/cc-debian12 nonroot "$base_arches" bookworm extract \
      "$static_pkgs,libc6,libssl3,libgcc-s1,libstdc++6,gcc-12-base" "KEEP='$libs' && $assemble" "${distroless_config[@]}"
  fi

  # alpine:3.20 (see alpine_files above).
  if want alpine alpine:3.20; then
    build_image library/alpine 3.20 "$base_arches" bookworm extract \
      "busybox-static,ca-certificates" "$alpine_files" "ENV PATH=$std_path" 'CMD ["/bin/sh"]'
  fi

  # The tests' SSH git server (the tests run it in a container): Debian's sshd and git.
  # The repositories are mounted read-only and owned by root: git may serve them to `git`.
  if want git-sshd; then
    build_image e2e/git-sshd 1 amd64 bookworm apt "openssh-server,git" \
      "useradd --root \"\$1\" --create-home --shell /usr/bin/git-shell git && passwd --root \"\$1\" -d git >/dev/null && rm -f \"\$1\"/etc/ssh/ssh_host_* && printf '[safe]\\n\\tdirectory = *\\n' > \"\$1\"/etc/gitconfig"
  fi

  # The Windows bases (see windows_image above).
  if want windows nanoserver nanoserver:ltsc2022; then windows_image nanoserver ContainerUser; fi
  if want windows servercore servercore:ltsc2022; then windows_image servercore; fi
}

# --- The Go builders -----------------------------------------------------------------------
#
# golang:X.Y and golang:X.Y-bookworm are one image, tagged twice: Debian 12 with its C
# compiler and glibc (what golang:X.Y-bookworm is for: cgo programs linked against it run on the
# Debian 12 bases and on newer ones), git and an SSH client (private modules come over HTTPS or
# SSH), and a working apt (cgo builds install cross compilers and -dev packages in it; the arm64
# image runs them under QEMU in cgo's emulated mode). The official golang:X.Y is Debian-based
# too; what a build without cgo needs of it is the Go toolchain.
#
# Each image is three layers: the builder root, made once per architecture by mmdebstrap and
# pushed as $REGISTRY/e2e/golang-root:<key>-<arch>; the release's sources (Debian unstable's
# golang-X.Y-src, the same layer for every architecture); and its go command, tools and
# compiled packages (golang-X.Y-go, whose go command is linked statically, so bookworm's older
# glibc does not matter). oci-push.py sends layers, configs and manifests straight to the
# registry: each layer is compressed and sent once, nothing is unpacked into an engine, and
# nothing runs under emulation but mmdebstrap's arm64 root (and each arm64 go command, once, to
# check its version).

root_packages="ca-certificates,git,openssh-client,gcc,g++,libc6-dev,make,pkg-config,tzdata"
root_key=$(printf '%s\n' golang-root-v1 bookworm apt "$root_packages" | sha256sum | cut -c1-12)
root_ref() { echo "$REGISTRY/e2e/golang-root:$root_key-$1"; }
root_tar() { echo "$GOAPP_CACHE/golang-root-$1-$root_key.tar"; }
declare -A root_pid=()

# start_root ARCH: starts making the builder root for ARCH in the background (its log:
# $log_dir/golang-root-ARCH.log): its tarball, then its layer's blob, sent ahead of the image.
start_root() {
  local arch=$1
  have_ref "$(root_ref "$arch")" && return 0
  say "making the Go builders' root for $arch in the background"
  {
    make_tar "$(root_tar "$arch")" "$arch" bookworm apt "$root_packages" ""
    python3 "$here/oci-push.py" "$(root_ref "$arch")" --layer "$(root_tar "$arch")" --blob-only
  } >"$log_dir/golang-root-$arch.log" 2>&1 &
  root_pid[$arch]=$!
}

# push_root ARCH: waits for the root, then pushes its image (unless it is there already). The
# tarball stays in the cache; its compressed copy does not.
push_root() {
  local arch=$1 ref tar
  ref=$(root_ref "$arch")
  tar=$(root_tar "$arch")
  if [ -n "${root_pid[$arch]:-}" ]; then
    wait "${root_pid[$arch]}" || { say "the root for $arch failed:"; tail -n 30 "$log_dir/golang-root-$arch.log" >&2; exit 1; }
    unset "root_pid[$arch]"
    sed 's/^/  /' "$log_dir/golang-root-$arch.log" >&2
  fi
  have_ref "$ref" && return 0
  make_tar "$tar" "$arch" bookworm apt "$root_packages" ""
  python3 "$here/oci-push.py" "$ref" --platform "linux/$arch" --layer "$tar" \
    --env "PATH=$std_path" --comment "Debian 12 with $root_packages" >/dev/null
  rm -f "$tar.gz" "$tar.gz.json"
  say "$ref pushed"
}

# go_deb MINOR PACKAGE ARCH VERSION: the path of golang-MINOR-PACKAGE's .deb in the cache.
go_deb() {
  local v=${4/:/%3a}
  echo "$GOAPP_CACHE/debs/sid/golang-$1-$2_${v}_$3.deb"
}

# go_debs_cached MINOR VERSION: whether the release's .debs are all in the cache.
go_debs_cached() {
  local arch
  [ -s "$(go_deb "$1" src all "$2")" ] || return 1
  for arch in $builder_arches; do [ -s "$(go_deb "$1" go "$arch" "$2")" ] || return 1; done
}

# resolve_go MINOR PINNED: the Debian version the release is made of (PINNED, unless unstable
# no longer has it and it is not cached), its .debs downloaded into the cache once.
resolve_go() {
  local minor=$1 v=$2
  go_debs_cached "$minor" "$v" && { echo "$v"; return 0; }
  v=$(sid_version "golang-$minor-src" "$v" 2>>"$log_dir/sid-apt.log") || true
  [ -n "$v" ] || { say "Debian unstable has no golang-$minor-src"; tail -n 20 "$log_dir/sid-apt.log" >&2; exit 1; }
  [ "$v" = "$2" ] || say "Debian unstable no longer has golang-$minor $2: taking its $v (update $here/go-releases)"
  if ! go_debs_cached "$minor" "$v"; then
    say "downloading Go $minor ($v) from Debian unstable"
    local want=() arch
    [ -s "$(go_deb "$minor" src all "$v")" ] || want+=("golang-$minor-src=$v")
    for arch in $builder_arches; do
      [ -s "$(go_deb "$minor" go "$arch" "$v")" ] || want+=("golang-$minor-go:$arch=$v")
    done
    # (Lists that are there but out of date may name a file the mirror no longer has: the
    # lists are refreshed once before giving up.)
    sid_download "$GOAPP_CACHE/debs/sid" "${want[@]}" >>"$log_dir/sid-apt.log" 2>&1 \
      || { sid_update && sid_download "$GOAPP_CACHE/debs/sid" "${want[@]}" >>"$log_dir/sid-apt.log" 2>&1; } \
      || { say "downloading ${want[*]} failed"; tail -n 20 "$log_dir/sid-apt.log" >&2; exit 1; }
  fi
  echo "$v"
}

# upstream_version DEBIAN-VERSION: Go's own version number (1.27.3-1 → 1.27.3, 1.27~rc1-1 →
# 1.27rc1), as GOLANG_VERSION carries it; its go command reports go<that>.
upstream_version() {
  local u=${1%-*}
  u=${u#*:}
  echo "${u//\~/}"
}

# go_config MINOR ARCH DEBIAN-VERSION: oci-push.py's arguments (one a line) for the release's
# image for ARCH: the root as its base, and the official image's config.
go_config() {
  printf '%s\n' --base "$(root_ref "$2")" --env "PATH=/go/bin:$std_path" --env GOPATH=/go \
    --env GOTOOLCHAIN=local --env "GOLANG_VERSION=$(upstream_version "$3")" --workdir /go
}

# go_key MINOR ARCH DEBIAN-VERSION: the key of the release's image for ARCH: its packages, how
# its layers are made and its config.
go_key() {
  (echo go-layers-v3; basename "$(go_deb "$1" go "$2" "$3")"; basename "$(go_deb "$1" src all "$3")"
    go_config "$@") | sha256sum | cut -c1-12
}
go_image_ref() { echo "$REGISTRY/library/golang:$1-$2-$(go_key "$@")"; }
go_tar() { echo "$GOAPP_CACHE/golang-$1-$2-$(go_key "$@").tar"; }
go_src_tar() { echo "$GOAPP_CACHE/golang-$1-src-${2/:/%3a}-v3.tar"; }

# deb_tar TAR DEB...: TAR made of the packages' files (owned by root), unless it is there.
# (The function named by $DEB_TAR_HOOK, if any, gets the unpacked tree first.)
deb_tar() {
  local tar=$1 root
  shift
  [ -s "$tar" ] && return 0
  root=$(mktemp -d "$GOAPP_CACHE/unpacked.XXXXXX")
  local deb
  for deb in "$@"; do dpkg-deb -x "$deb" "$root"; done
  chmod 755 "$root"
  [ -z "${DEB_TAR_HOOK:-}" ] || "$DEB_TAR_HOOK" "$root" || { rm -rf "$root"; return 1; }
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$tar.part" .
  rm -rf "$root"
  mv "$tar.part" "$tar"
}

# go_layer_hook ROOT: completes the unpacked golang-X.Y-go ($minor, $arch and $v set by the
# caller) once its go command has reported the expected version (an arm64 one runs under
# QEMU): go and gofmt linked into /usr/local/bin, and GOPATH, /go with src and bin, writable by
# every user as in the official image.
go_layer_hook() {
  local root=$1 got expect
  expect=go$(upstream_version "$v")
  got=$(env -i PATH=/usr/bin:/bin HOME=/nonexistent GOTOOLCHAIN=local "$root/usr/lib/go-$minor/bin/go" env GOVERSION) || got=
  [ "$got" = "$expect" ] || { say "golang-$minor-go $v for $arch reports '$got', not $expect"; return 1; }
  # (Chained: deb_tar runs this where a failure would not stop the script.)
  mkdir -p "$root/usr/local/bin" "$root/go/src" "$root/go/bin" &&
    ln -s "/usr/lib/go-$minor/bin/go" "$root/usr/local/bin/go" &&
    ln -s "/usr/lib/go-$minor/bin/gofmt" "$root/usr/local/bin/gofmt" &&
    chmod -R 1777 "$root/go"
}

# make_go_layers MINOR ARCH DEBIAN-VERSION: the tarballs of the release's two layers for ARCH,
# their blobs sent ahead of the image.
make_go_layers() {
  local minor=$1 arch=$2 v=$3 t0=$SECONDS
  deb_tar "$(go_src_tar "$minor" "$v")" "$(go_deb "$minor" src all "$v")"
  DEB_TAR_HOOK=go_layer_hook deb_tar "$(go_tar "$@")" "$(go_deb "$minor" go "$arch" "$v")"
  python3 "$here/oci-push.py" "$(go_image_ref "$@")" --layer "$(go_src_tar "$minor" "$v")" \
    --layer "$(go_tar "$@")" --blob-only
  say "Go $minor's layers for $arch took $((SECONDS - t0)) s"
}

# push_go_image MINOR ARCH DEBIAN-VERSION: pushes the release's image for ARCH (its root is
# pushed already).
push_go_image() {
  local minor=$1 arch=$2 v=$3 config
  if [ ! -s "$(go_tar "$@")" ] || [ ! -s "$(go_src_tar "$minor" "$v")" ]; then make_go_layers "$@"; fi
  mapfile -t config < <(go_config "$@")
  python3 "$here/oci-push.py" "$(go_image_ref "$@")" --platform "linux/$arch" \
    --layer "$(go_src_tar "$minor" "$v")" --layer "$(go_tar "$@")" "${config[@]}" \
    --comment "Go $(upstream_version "$v") from Debian's golang-$minor-src and golang-$minor-go $v" >/dev/null
}

# check_go MINOR ARCH DEBIAN-VERSION: the release's image for ARCH runs its go command, which
# reports the version it was made of (run for amd64 only: an arm64 go command was run, under
# QEMU, when its layer was made).
check_go() {
  local expect got
  expect=go$(upstream_version "$3")
  got=$(docker run --rm --quiet --pull always --platform "linux/$2" "$(go_image_ref "$@")" go env GOVERSION 2>&1) || true
  [ "$got" = "$expect" ] || { say "golang:$1 for $2 reports '$got', not $expect"; exit 1; }
}

# --- The run -------------------------------------------------------------------------------
#
# Three lanes, so that both cores stay busy: the Go builders' roots in the background (the
# arm64 one, run under QEMU, takes minutes), the runtime bases in the background, and here the
# Go toolchain layers, then the Go images as their roots become ready.

go_wanted=$(awk '{print "golang:" $1}' <<<"$go_releases")
if want golang $go_wanted; then
  for arch in $builder_arches; do start_root "$arch"; done
fi

# A failed or interrupted run leaves no background job behind to write into the cache.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
runtime_images &
runtime_pid=$!

# Which releases to build, their Debian versions, and which per-platform images are missing.
go_todo=()
go_missing=()
declare -A go_version=()
if want golang $go_wanted; then
  while read -r minor pinned; do
    want golang "golang:$minor" || continue
    go_version[$minor]=$(resolve_go "$minor" "$pinned")
    go_todo+=("$minor")
    for arch in $builder_arches; do
      have_ref "$(go_image_ref "$minor" "$arch" "${go_version[$minor]}")" || go_missing+=("$minor $arch")
    done
  done <<<"$go_releases"
fi

for m in "${go_missing[@]}"; do
  read -r minor arch <<<"$m"
  make_go_layers "$minor" "$arch" "${go_version[$minor]}"
done
for arch in $builder_arches; do
  [ "${#go_todo[@]}" -gt 0 ] || break
  push_root "$arch"
  for m in "${go_missing[@]}"; do
    read -r minor march <<<"$m"
    [ "$march" = "$arch" ] || continue
    push_go_image "$minor" "$arch" "${go_version[$minor]}"
    [ "$arch" != amd64 ] || check_go "$minor" "$arch" "${go_version[$minor]}"
  done
done

wait "$runtime_pid" || { say "the runtime bases failed"; exit 1; }

for minor in "${go_todo[@]}"; do
  # Every platform made so far, not only this run's: a run for one platform keeps the other.
  refs=()
  for arch in $base_arches; do
    ref=$(go_image_ref "$minor" "$arch" "${go_version[$minor]}")
    if [[ " $builder_arches " == *" $arch "* ]] || have_ref "$ref"; then refs+=("$ref"); fi
  done
  docker buildx imagetools create -t "$REGISTRY/library/golang:$minor" \
    -t "$REGISTRY/library/golang:$minor-bookworm" "${refs[@]}" >/dev/null 2>&1
  say "$REGISTRY/library/golang:$minor and :$minor-bookworm ready ($builder_arches: go$(upstream_version "${go_version[$minor]}"))"
done
# The toolchain layers' tarballs are not kept: the images are.
for m in "${go_missing[@]}"; do
  read -r minor arch <<<"$m"
  for tar in "$(go_tar "$minor" "$arch" "${go_version[$minor]}")" "$(go_src_tar "$minor" "${go_version[$minor]}")"; do
    rm -f "$tar" "$tar.gz" "$tar.gz.json"
  done
done
