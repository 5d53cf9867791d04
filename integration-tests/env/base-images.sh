#!/usr/bin/env bash
# Builds the base images the examples and tests use from Debian packages with mmdebstrap and
# pushes them, as multi-platform indexes, to the local registry. No image comes from a public
# registry: these are stand-ins published under the names the specs use, behind the registry
# mirror setting (GOAPP_REGISTRY_MIRROR=localhost:5000 maps docker.io/library/golang:1.24 to
# localhost:5000/library/golang:1.24).
#
# Tarballs are cached under $GOAPP_CACHE, keyed on everything that goes into them; a pushed
# image whose key is unchanged is not rebuilt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GOAPP_CACHE=${GOAPP_CACHE:-/var/cache/goapp-e2e}
REGISTRY=${GOAPP_REGISTRY:-localhost:5000}
say() { printf '[images] %s\n' "$*" >&2; }


# fetch_deb PACKAGE SUITE: the path of the package's .deb for this machine's architecture,
# downloaded once into the cache (its name carries the version).
fetch_deb() {
  local dir="$GOAPP_CACHE/debs/$2"
  mkdir -p "$dir"
  (cd "$dir" && ls "$1"_*.deb >/dev/null 2>&1 || apt-get download -q -o APT::Sandbox::User=root "$1/$2" >&2)
  ls "$dir/$1"_*.deb | sort -V | tail -n 1
}

have_ref() { docker buildx imagetools inspect "$1" >/dev/null 2>&1; }

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
    if [ ! -s "$tar" ]; then
      say "mmdebstrap $repo:$tag for $arch"
      local t0=$SECONDS
      if [ "$variant" = extract ]; then
        # Packages extracted, not installed: the hook builds the image's root ($2) from the
        # extracted files ($1) here, outside mmdebstrap.
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
      say "  $repo:$tag $arch took $((SECONDS - t0)) s"
    fi
    local changes=()
    local i
    for i in "${instructions[@]}"; do changes+=(-c "$i"); done
    docker import --platform "linux/$arch" "${changes[@]}" "$tar" "$ref" >/dev/null
    docker push -q "$ref" >/dev/null
  done
  docker buildx imagetools create -t "$REGISTRY/$repo:$tag" "${refs[@]}" >/dev/null 2>&1
  say "$REGISTRY/$repo:$tag ready ($arches)"
}

std_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
base_arches="amd64 arm64"

# The Go builder (with git and an SSH client, as the official image: private modules come
# over HTTPS or SSH). It runs on the build platform only (cross-compilation needs no emulation),
# so one architecture is enough here.
go_version=1.24
build_image library/golang "$go_version" "${GOAPP_BUILDER_ARCHES:-amd64}" trixie apt \
  "golang-$go_version-go,ca-certificates,git,openssh-client,gcc,libc6-dev,tzdata" \
  "ln -s /usr/lib/go-$go_version/bin/go \"\$1\"/usr/local/bin/go && ln -s /usr/lib/go-$go_version/bin/gofmt \"\$1\"/usr/local/bin/gofmt && mkdir -p \"\$1\"/go" \
  "ENV PATH=/go/bin:$std_path" "ENV GOPATH=/go" "ENV GOTOOLCHAIN=local"

# golang:<version>-bookworm, the builder of cgo programs: Debian 12's C compiler and glibc, so
# that what it links runs on the Debian 12 bases (distroless-debian12, bookworm-slim) and on
# newer ones. Built for both platforms: cgo's emulated mode runs it on the target platform.
# Bookworm has no Go 1.24 package; the official image installs Go's own static build, and here
# trixie's golang packages (static binaries, no glibc dependency) are unpacked into it.
go_debs=()
for p in "golang-$go_version-go" "golang-$go_version-src"; do
  go_debs+=("$(fetch_deb "$p" trixie)")
done
build_image library/golang "$go_version-bookworm" "$base_arches" bookworm apt \
  "ca-certificates,git,openssh-client,gcc,g++,libc6-dev,make,pkg-config,tzdata" \
  "for d in ${go_debs[*]}; do dpkg-deb -x \"\$d\" \"\$1\"; done && ln -s /usr/lib/go-$go_version/bin/go \"\$1\"/usr/local/bin/go && ln -s /usr/lib/go-$go_version/bin/gofmt \"\$1\"/usr/local/bin/gofmt && mkdir -p \"\$1\"/go" \
  "ENV PATH=/go/bin:$std_path" "ENV GOPATH=/go" "ENV GOTOOLCHAIN=local"

# Runtime bases, for both platforms. Only `debian` runs maintainer scripts (under QEMU for
# arm64); the others are extracted from packages and assembled by the hooks below, which
# run on this machine, so they need no emulation.

# debian:bookworm-slim: Debian's minbase, as the official image is made.
build_image library/debian bookworm-slim "$base_arches" bookworm minbase "" "" \
  "ENV PATH=$std_path" 'CMD ["bash"]'

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

# Stand-ins for gcr.io/distroless/{static,base,cc}-debian12:nonroot, made from the Debian 12
# packages those images are made of.
build_image gcr.io/distroless/static-debian12 nonroot "$base_arches" bookworm extract \
  "$static_pkgs" "KEEP= && $assemble" "${distroless_config[@]}"
build_image gcr.io/distroless/base-debian12 nonroot "$base_arches" bookworm extract \
  "$static_pkgs,libc6,libssl3" "KEEP='$libs' && $assemble" "${distroless_config[@]}"
build_image gcr.io/distroless/cc-debian12 nonroot "$base_arches" bookworm extract \
  "$static_pkgs,libc6,libssl3,libgcc-s1,libstdc++6,gcc-12-base" "KEEP='$libs' && $assemble" "${distroless_config[@]}"

# A stand-in for alpine:3.20: BusyBox with its applets linked, root and nobody, a CA bundle
# and no zoneinfo, as Alpine has. Its C library is glibc's static build inside busybox-static,
# not musl: Go programs built with CGO_ENABLED=0 do not notice.
alpine_files='KEEP=bin/busybox && '"$assemble"' && r="$2"
for a in sh ash cat ls cp mv rm mkdir echo env grep sed ps sleep id wget vi tar gzip date hostname; do ln -sf /bin/busybox "$r"/bin/$a; done
printf "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n" > "$r"/etc/passwd
printf "root:x:0:root\nnobody:x:65534:\n" > "$r"/etc/group
rm -rf "$r"/home/nonroot "$r"/etc/os-release
printf "NAME=\"Alpine stand-in (BusyBox from Debian)\"\nID=alpine\nVERSION_ID=3.20\n" > "$r"/etc/os-release'
build_image library/alpine 3.20 "$base_arches" bookworm extract \
  "busybox-static,ca-certificates" "$alpine_files" "ENV PATH=$std_path" 'CMD ["/bin/sh"]'

# The tests' SSH git server (integration-tests/env/up.sh runs it): Debian's sshd and git.
# The repositories are mounted read-only and owned by root: git may serve them to `git`.
build_image e2e/git-sshd 1 amd64 bookworm apt "openssh-server,git" \
  "useradd --root \"\$1\" --create-home --shell /usr/bin/git-shell git && passwd --root \"\$1\" -d git >/dev/null && rm -f \"\$1\"/etc/ssh/ssh_host_* && printf '[safe]\\n\\tdirectory = *\\n' > \"\$1\"/etc/gitconfig"
