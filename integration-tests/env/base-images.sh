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


have_ref() { docker buildx imagetools inspect "$1" >/dev/null 2>&1; }

# build_image REPO TAG "ARCHES" VARIANT "PACKAGES" HOOK ENV...
build_image() {
  local repo=$1 tag=$2 arches=$3 variant=$4 packages=$5 hook=$6
  shift 6
  local envs=("$@")
  local key
  key=$(printf '%s\n' "v1" "$variant" "$packages" "$hook" "${envs[@]}" | sha256sum | cut -c1-12)
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
      mmdebstrap --quiet --format=tar --variant="$variant" --architectures="$arch" \
        --include="$packages" \
        ${hook:+--customize-hook="$hook"} \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
        trixie "$tar.part" "$(archive_url)"
      mv "$tar.part" "$tar"
      say "  $repo:$tag $arch took $((SECONDS - t0)) s"
    fi
    local changes=()
    local e
    for e in "${envs[@]}"; do changes+=(-c "ENV $e"); done
    docker import --platform "linux/$arch" "${changes[@]}" "$tar" "$ref" >/dev/null
    docker push -q "$ref" >/dev/null
  done
  docker buildx imagetools create -t "$REGISTRY/$repo:$tag" "${refs[@]}" >/dev/null 2>&1
  say "$REGISTRY/$repo:$tag ready ($arches)"
}

std_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The Go builder. It runs on the build platform only (cross-compilation needs no emulation),
# so one architecture is enough here.
go_version=1.24
build_image library/golang "$go_version" "${GOAPP_BUILDER_ARCHES:-amd64}" apt \
  "golang-$go_version-go,ca-certificates,git,gcc,libc6-dev,tzdata" \
  "ln -s /usr/lib/go-$go_version/bin/go \"\$1\"/usr/local/bin/go && ln -s /usr/lib/go-$go_version/bin/gofmt \"\$1\"/usr/local/bin/gofmt && mkdir -p \"\$1\"/go" \
  "PATH=/go/bin:$std_path" "GOPATH=/go" "GOTOOLCHAIN=local"
