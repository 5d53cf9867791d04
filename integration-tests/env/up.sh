#!/usr/bin/env bash
# Installs and starts everything the end-to-end tests need on a fresh Debian 12 machine:
# Docker Engine with BuildKit and the containerd image store, buildx, QEMU user emulation
# registered with binfmt_misc, a local registry on 127.0.0.1:5000, and the base images the
# examples use, built from Debian packages. Safe to run again: each step checks first.
#
# Usage: up.sh [engine|images [NAME...]|all|stop]
#   engine  packages, engines, registry, module proxies, forward proxy and private Git server
#   images  the base images (base-images.sh, which takes the same NAMEs)
#   all     both, and the SSH git server (the default)
#   stop    stops what up.sh started (scripts/test does when its tests end)
#
# Caches kept between runs on the same machine: the mmdebstrap tarballs (keyed on the package
# list) under $GOAPP_CACHE and the registry's data.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
GOAPP_CACHE=${GOAPP_CACHE:-/var/cache/goapp-e2e}
GOAPP_STATE=${GOAPP_STATE:-/var/lib/goapp-e2e}
REGISTRY=${GOAPP_REGISTRY:-localhost:5000}
log_dir=$GOAPP_STATE/logs
mkdir -p "$GOAPP_CACHE" "$GOAPP_STATE" "$log_dir"

say() { printf '[env] %s\n' "$*" >&2; }

# re_escape TEXT: TEXT as an extended regular expression that matches only itself.
re_escape() { sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"; }

# server_re ADDRESS PORT: the command line of a python3 -m http.server that up.sh started (on
# any address if ADDRESS is empty).
server_re() {
  local address='[0-9.]+'
  [ -z "$1" ] || address=$(re_escape "$1")
  echo "([^ ]*/)?python3(\.[0-9]+)? -m http\.server --bind $address $2 --directory .*"
}

# started_pids PIDFILE REGEX: the process up.sh started whose whole command line matches REGEX:
# the one in PIDFILE, or else (started before up.sh kept pidfiles) those whose command line is
# exactly that. A process id reused by another program is never printed.
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


install_packages() {
  # (tinyproxy-bin is Debian's tinyproxy without its service: no system proxy gets started.)
  local want=(docker.io containerd docker-buildx docker-registry mmdebstrap arch-test qemu-user-static git openssh-client
    tinyproxy-bin)
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
    docker.io/trixie containerd/trixie docker-buildx/trixie docker-cli/trixie \
    qemu-user-static/bookworm-backports docker-registry mmdebstrap arch-test git openssh-client tinyproxy-bin \
    >"$log_dir/apt.log" 2>&1 || { tail -n 40 "$log_dir/apt.log" >&2; exit 1; }
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

# A Go module proxy made of files, from Debian's golang-*-dev packages (goproxy-packages
# pins them), served over HTTP on the bridge gateway, where build steps and containers
# reach it: the examples with third-party modules build with
# --build-arg GOPROXY=$(cat $GOAPP_STATE/goproxy.url) and no network.
start_goproxy() {
  local list=$here/goproxy-packages debs=$GOAPP_CACHE/debs
  local key
  key=$(cat "$list" "$here/goproxy.py" | sha256sum | cut -c1-12)
  local dir=$GOAPP_STATE/goproxy-$key
  if [ ! -d "$dir" ]; then
    mkdir -p "$debs"
    local missing=()
    local p
    while read -r p; do
      [ -n "$p" ] || continue
      local file="${p%%=*}_${p#*=}"
      ls "$debs/${file/:/%3a}"_*.deb >/dev/null 2>&1 || missing+=("$p")
    done < "$list"
    if [ "${#missing[@]}" -gt 0 ]; then
      say "downloading ${#missing[@]} Go source packages"
      (cd "$debs" && apt-get download -qq "${missing[@]}" >"$log_dir/goproxy-apt.log" 2>&1) \
        || { tail -n 20 "$log_dir/goproxy-apt.log" >&2; exit 1; }
    fi
    local pkgs=()
    while read -r p; do
      [ -n "$p" ] || continue
      local file="${p%%=*}_${p#*=}"
      pkgs+=("$(ls "$debs/${file/:/%3a}"_*.deb)")
    done < "$list"
    rm -rf "$dir.part"
    python3 "$here/goproxy.py" "$dir.part" "${pkgs[@]}" >"$log_dir/goproxy.log"
    mv "$dir.part" "$dir"
  fi
  local gateway
  gateway=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
  local url=http://$gateway:5080
  local served=$GOAPP_STATE/goproxy.served
  if [ "$(cat "$served" 2>/dev/null)" != "$dir" ] || ! curl -fsS "$url/golang.org/x/text/@v/list" >/dev/null 2>&1; then
    stop_started "$GOAPP_STATE/goproxy-http.pid" "$(server_re "$gateway" 5080)" "the module proxy's server"
    say "serving the Go module proxy at $url"
    nohup python3 -m http.server --bind "$gateway" 5080 --directory "$dir" >"$log_dir/goproxy-http.log" 2>&1 &
    echo $! > "$GOAPP_STATE/goproxy-http.pid"
    for _ in $(seq 1 50); do curl -fsS "$url/golang.org/x/text/@v/list" >/dev/null 2>&1 && break; sleep 0.2; done
    curl -fsS "$url/golang.org/x/text/@v/list" >/dev/null || { say "the module proxy did not come up"; exit 1; }
    echo "$dir" > "$served"
  fi
  echo "$url" > "$GOAPP_STATE/goproxy.url"
}

# A private Go module, <gateway>/private/greet.git v1.0.0, in a bare Git repository served by
# private-git.py over smart HTTP with Basic auth on the bridge gateway, port 80: the go command
# fetches it directly (GOPROXY=direct, GOINSECURE=<gateway>) with the credentials in a .netrc
# or from a Git credential helper. $GOAPP_STATE/private-git.json tells the tests the module,
# the credentials and its go.sum lines.
start_private_git() {
  local gateway
  gateway=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
  local root=$GOAPP_STATE/private-git module=$gateway/private/greet.git version=v1.0.0
  local repo=$root/private/greet.git
  local creds=$GOAPP_STATE/private-git.env
  if [ ! -s "$creds" ]; then
    (umask 077; printf 'PRIVATE_GIT_PASSWORD=%s\nPRIVATE_GIT_TOKEN=%s\n' \
      "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" \
      "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" > "$creds")
  fi
  local PRIVATE_GIT_PASSWORD PRIVATE_GIT_TOKEN
  . "$creds"

  if [ "$(cat "$root/module" 2>/dev/null)" != "$module $version" ] || [ ! -s "$root/go.sum" ] \
    || ! git --git-dir="$repo" rev-parse -q --verify "refs/tags/$version" >/dev/null; then
    say "making the private module $module $version"
    rm -rf "$root"
    mkdir -p "$root/private"
    local work
    work=$(mktemp -d)
    printf 'module %s\n\ngo 1.22\n' "$module" > "$work/go.mod"
    cat > "$work/greet.go" <<'GO'
package greet

func Hello(name string) string { return "hello, " + name + ", from a private module" }
GO
    # Fixed names and dates, and no configuration of this machine's: the same commit each time.
    # (set -e does not reach into a subshell followed by ||: hence the &&.)
    (
      export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
      export GIT_AUTHOR_NAME="goapp tests" GIT_AUTHOR_EMAIL=tests@goapp.invalid
      export GIT_COMMITTER_NAME="goapp tests" GIT_COMMITTER_EMAIL=tests@goapp.invalid
      export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
      git -C "$work" init -q -b main &&
        git -C "$work" add go.mod greet.go &&
        git -C "$work" commit -q -m "greet $version" &&
        git -C "$work" tag "$version" &&
        git init -q --bare -b main "$repo.part" &&
        git -C "$repo.part" config http.receivepack false &&
        git -C "$repo.part" config uploadpack.allowReachableSHA1InWant true &&
        git -C "$work" push -q "$repo.part" main "refs/tags/$version"
    ) >"$log_dir/private-git-repo.log" 2>&1 || { cat "$log_dir/private-git-repo.log" >&2; rm -rf "$work"; exit 1; }
    mv "$repo.part" "$repo"
    python3 "$here/private-git.py" gosum --module "$module" --version "$version" --dir "$work" > "$root/go.sum"
    rm -rf "$work"
    echo "$module $version" > "$root/module"
  fi

  local url=http://$gateway/private/greet.git
  local probe="$url/info/refs?service=git-upload-pack"
  local key pidfile=$GOAPP_STATE/private-git.pid served=$GOAPP_STATE/private-git.served
  key=$(cat "$here/private-git.py" "$creds" "$root/module" | sha256sum | cut -c1-12)
  if [ "$(cat "$served" 2>/dev/null)" != "$gateway $key" ] \
    || ! curl -fsS -o /dev/null -u "goapp:$PRIVATE_GIT_PASSWORD" "$probe" 2>/dev/null; then
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -q private-git.py; then
      kill "$pid"
      for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    say "serving the private Git repositories at http://$gateway/"
    nohup python3 "$here/private-git.py" --bind "$gateway" --port 80 --root "$root" \
      --user "goapp:$PRIVATE_GIT_PASSWORD" --user "x-access-token:$PRIVATE_GIT_TOKEN" \
      >"$log_dir/private-git.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 50); do
      curl -fsS -o /dev/null -u "goapp:$PRIVATE_GIT_PASSWORD" "$probe" 2>/dev/null && break
      sleep 0.2
    done
    curl -fsS -o /dev/null -u "goapp:$PRIVATE_GIT_PASSWORD" "$probe" \
      || { say "the private Git server did not come up"; tail -n 20 "$log_dir/private-git.log" >&2; exit 1; }
    echo "$gateway $key" > "$served"
  fi
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$probe")
  [ "$code" = 401 ] || { say "the private Git server answered $code without credentials, not 401"; exit 1; }
  curl -fsS -o /dev/null -u "x-access-token:$PRIVATE_GIT_TOKEN" "$probe" \
    || { say "the private Git server refused the token"; exit 1; }

  python3 - "$GOAPP_STATE/private-git.json" "$url" "$module" "$version" \
    "$PRIVATE_GIT_PASSWORD" "$PRIVATE_GIT_TOKEN" "$root/go.sum" <<'PY'
import json, os, sys
out, url, module, version, password, token, gosum = sys.argv[1:]
with open(gosum) as f:
    go_sum = f.read()
info = {"url": url, "module": module, "version": version, "user": "goapp",
        "password": password, "token": token, "go_sum": go_sum}
fd = os.open(out + ".part", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(info, f, indent=2)
    f.write("\n")
os.replace(out + ".part", out)
PY
}

# The private module over SSH: Debian's sshd in a container (the image base-images.sh makes),
# published on the bridge gateway's port 2222, serving the private git server's repositories
# read-only to the user `git` with a key made for the tests. $GOAPP_STATE/private-ssh.json
# tells the tests the host, the client key and the host's known_hosts line.
start_private_ssh() {
  local gateway dir=$GOAPP_STATE/private-ssh image=$REGISTRY/e2e/git-sshd:1 name=goapp-e2e-git-sshd
  gateway=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
  mkdir -p "$dir/authorized_keys"
  [ -s "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C goapp-e2e-host -f "$dir/ssh_host_ed25519_key"
  [ -s "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C goapp-e2e-client -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys/git"
  chmod 644 "$dir/authorized_keys/git"
  cat > "$dir/sshd_config" <<CFG
HostKey /etc/ssh/goapp/ssh_host_ed25519_key
AuthorizedKeysFile /etc/ssh/goapp/authorized_keys/%u
AllowUsers git
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
LogLevel VERBOSE
CFG
  docker pull -q "$image" >/dev/null
  local key
  # (The repositories' directory too: when up.sh makes it again, the container must mount the
  # new one.)
  key=$( (cat "$dir/sshd_config" "$dir/ssh_host_ed25519_key.pub" "$dir/authorized_keys/git"; docker image inspect -f '{{.Id}}' "$image"
    stat -c %i "$GOAPP_STATE/private-git/private") | sha256sum | cut -c1-12)
  if [ "$(docker inspect -f '{{.State.Running}} {{index .Config.Labels "goapp.key"}}' "$name" 2>/dev/null)" != "true $key" ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    say "serving the private repositories over SSH at $gateway:2222"
    docker run -d --name "$name" --restart unless-stopped --label "goapp.key=$key" \
      -p "$gateway:2222:22" -v "$dir:/etc/ssh/goapp:ro" -v "$GOAPP_STATE/private-git/private:/private:ro" \
      "$image" sh -c 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f /etc/ssh/goapp/sshd_config' >/dev/null
  fi
  local known="[$gateway]:2222 $(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")"
  # The repository answers over SSH with the key, and only with it.
  local ok=0
  for _ in $(seq 1 50); do
    if GIT_SSH_COMMAND="ssh -i $dir/client_key -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR" \
      git ls-remote "ssh://git@$gateway:2222/private/greet.git" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { say "the SSH git server does not answer"; docker logs --tail 20 "$name" >&2; exit 1; }
  python3 - "$GOAPP_STATE/private-ssh.json" "$gateway" "$dir/client_key" "$known" <<'PY'
import json, sys
out, host, key, known = sys.argv[1:]
with open(out, "w") as f:
    json.dump({"host": host, "port": 2222, "user": "git", "key": key, "known_hosts": known}, f, indent=2)
    f.write("\n")
PY
}

# An older engine beside the real one, for the test of how goapp refuses a BuildKit that lacks
# a capability: Debian 12's Docker 20.10 (BuildKit v0.8), unpacked from its package and run
# with its own data, socket and containerd namespace, and no networking of its own (it only
# pulls the frontend image from the local registry). The tests reach it at
# unix://$GOAPP_STATE/docker20/docker.sock.
start_old_engine() {
  local dir=$GOAPP_STATE/docker20 sock
  sock=$dir/docker.sock
  if DOCKER_HOST=unix://$sock timeout 5 docker version >/dev/null 2>&1; then return 0; fi
  mkdir -p "$dir/data" "$dir/exec" "$GOAPP_CACHE/debs/bookworm"
  if [ ! -x "$dir/bin/usr/sbin/dockerd" ]; then
    local deb
    deb=$(cd "$GOAPP_CACHE/debs/bookworm" && { ls docker.io_20.10.*.deb 2>/dev/null || { apt-get download -qq -o APT::Sandbox::User=root docker.io/bookworm >&2 && ls docker.io_20.10.*.deb; }; } | tail -n 1)
    [ -n "$deb" ] || { say "cannot download Debian 12's docker.io"; exit 1; }
    rm -rf "$dir/bin"
    mkdir -p "$dir/bin"
    dpkg-deb -x "$GOAPP_CACHE/debs/bookworm/$deb" "$dir/bin"
  fi
  # A bridge of its own: with none, it would take docker0 down, which the real engine owns.
  if ! ip link show goapp20 >/dev/null 2>&1; then
    ip link add goapp20 type bridge
    ip addr add 10.237.0.1/24 dev goapp20
    ip link set goapp20 up
  fi
  # Its own (empty) configuration, not the real engine's /etc/docker/daemon.json.
  echo '{}' > "$dir/daemon.json"
  say "starting Docker 20.10 (BuildKit v0.8) at unix://$sock"
  nohup "$dir/bin/usr/sbin/dockerd" --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    -H "unix://$sock" --containerd=/run/containerd/containerd.sock --containerd-namespace=goapp20 \
    --containerd-plugins-namespace=goapp20-plugins --bridge=goapp20 --iptables=false --ip6tables=false \
    >"$log_dir/dockerd20.log" 2>&1 &
  for _ in $(seq 1 100); do DOCKER_HOST=unix://$sock timeout 5 docker version >/dev/null 2>&1 && return 0; sleep 0.3; done
  say "Docker 20.10 did not come up; its log:"; tail -n 20 "$log_dir/dockerd20.log" >&2; exit 1
}

# A current buildx beside Debian's (0.13.1, which lacks `--call`), for the tests of what newer
# buildx versions send: Debian unstable's build, unpacked as a CLI plugin under
# $GOAPP_STATE/buildx-current, which a test selects with DOCKER_CONFIG. The system's buildx is
# left as it is. The version is pinned; when unstable has moved on, its current one is used.
BUILDX_CURRENT=0.29.1+ds1-4
install_current_buildx() {
  local dir=$GOAPP_STATE/buildx-current plugin
  plugin=$dir/cli-plugins/docker-buildx
  if [ -x "$plugin" ] && DOCKER_CONFIG=$dir docker buildx version >/dev/null 2>&1; then return 0; fi
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
  mkdir -p "$dir.part/deb"
  dpkg-deb -x "$(ls "$debs"/docker-buildx_*.deb | tail -n 1)" "$dir.part/deb"
  mkdir -p "$dir.part/cli-plugins"
  mv "$dir.part/deb/usr/libexec/docker/cli-plugins/docker-buildx" "$dir.part/cli-plugins/"
  rm -rf "$dir.part/deb" "$dir"
  mv "$dir.part" "$dir"
  DOCKER_CONFIG=$dir docker buildx version >&2
}

# A forward proxy, for the tests of the proxy build args (HTTP_PROXY and the others): Debian's
# tinyproxy on the bridge gateway's port 3128 (not 8888, the port of Debian's tinyproxy service,
# which is not installed here), logging every request, and behind it a second server of the Go
# module proxy's files on the gateway's port 5081 that build steps and containers reach only
# through it: a firewall rule rejects connections to that port from anywhere but this machine
# itself (the proxy's own connections come over the loopback interface). (Go never sends requests
# for loopback addresses through a proxy, hence the gateway address.)
# $GOAPP_STATE/proxy.json tells the tests: {"proxy": URL, "goproxy": URL, "log": PATH}.
start_proxy() {
  local gateway subnet dir
  gateway=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
  subnet=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Subnet}}')
  dir=$(cat "$GOAPP_STATE/goproxy.served")
  local port=3128 proxy=http://$gateway:3128 goproxy=http://$gateway:5081
  local probe=$goproxy/golang.org/x/text/@v/list

  # The module proxy behind it.
  local served=$GOAPP_STATE/goproxy-hidden.served
  if [ "$(cat "$served" 2>/dev/null)" != "$dir" ] || ! curl -fsS -o /dev/null "$probe" 2>/dev/null; then
    stop_started "$GOAPP_STATE/goproxy-hidden.pid" "$(server_re "$gateway" 5081)" "the proxied module proxy's server"
    say "serving the Go module proxy at $goproxy, for the forward proxy only"
    nohup python3 -m http.server --bind "$gateway" 5081 --directory "$dir" >"$log_dir/goproxy-hidden-http.log" 2>&1 &
    echo $! > "$GOAPP_STATE/goproxy-hidden.pid"
    for _ in $(seq 1 50); do curl -fsS -o /dev/null "$probe" 2>/dev/null && break; sleep 0.2; done
    curl -fsS -o /dev/null "$probe" || { say "the proxied module proxy did not come up"; exit 1; }
    echo "$dir" > "$served"
  fi
  local rule=(INPUT -p tcp --dport 5081 ! -i lo -j REJECT --reject-with tcp-reset)
  iptables -C "${rule[@]}" 2>/dev/null || iptables -I "${rule[@]}"

  # The forward proxy, restarted when its configuration changes.
  local conf=$GOAPP_STATE/tinyproxy.conf regex
  regex="([^ ]*/)?tinyproxy -d -c $(re_escape "$conf")"
  # Clients allowed: the bridge's subnet and this machine's own addresses (a connection from
  # this machine to the gateway address may come from any of them).
  local want
  want=$(cat <<CONF
Port $port
Listen $gateway
Timeout 600
MaxClients 100
LogFile "$log_dir/tinyproxy.log"
LogLevel Info
Allow $subnet
$(ip -4 -o addr show | awk '{sub("/.*", "", $4); print "Allow " $4}' | sort -u)
CONF
)
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ] || [ -z "$(started_pids "$GOAPP_STATE/tinyproxy.pid" "$regex")" ] \
    || ! curl -fsS -o /dev/null -x "$proxy" "$probe" 2>/dev/null; then
    stop_started "$GOAPP_STATE/tinyproxy.pid" "$regex" "the forward proxy"
    echo "$want" > "$conf"
    say "starting the forward proxy at $proxy"
    nohup tinyproxy -d -c "$conf" >"$log_dir/tinyproxy-stderr.log" 2>&1 &
    echo $! > "$GOAPP_STATE/tinyproxy.pid"
    for _ in $(seq 1 50); do curl -fsS -o /dev/null -x "$proxy" "$probe" 2>/dev/null && break; sleep 0.2; done
    curl -fsS -o /dev/null -x "$proxy" "$probe" \
      || { say "the forward proxy does not answer"; tail -n 20 "$log_dir/tinyproxy-stderr.log" "$log_dir/tinyproxy.log" >&2; exit 1; }
  fi
  python3 - "$GOAPP_STATE/proxy.json" "$proxy" "$goproxy" "$log_dir/tinyproxy.log" <<'PY'
import json, sys
out, proxy, goproxy, log = sys.argv[1:]
with open(out, "w") as f:
    json.dump({"proxy": proxy, "goproxy": goproxy, "log": log}, f, indent=2)
    f.write("\n")
PY
}

# check_proxy: a container reaches the proxied module proxy through the forward proxy, and not
# without it (bash's /dev/tcp in the debian:bookworm-slim stand-in, which has no HTTP client).
check_proxy() {
  local gateway image=$REGISTRY/library/debian:bookworm-slim path=/golang.org/x/text/@v/list
  gateway=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
  local via="exec 3<>/dev/tcp/$gateway/3128 && printf 'GET http://$gateway:5081$path HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3"
  local status
  status=$(docker run --rm --quiet "$image" timeout 10 bash -c "$via" 2>&1 | tr -d '\r') || true
  case "$status" in
    "HTTP/1."?" 200 "*) ;;
    *) say "a container does not reach http://$gateway:5081 through the proxy: $status"; exit 1 ;;
  esac
  if docker run --rm --quiet "$image" timeout 10 bash -c "exec 3<>/dev/tcp/$gateway/5081" 2>/dev/null; then
    say "a container reaches http://$gateway:5081 without the proxy"; exit 1
  fi
  say "the proxied module proxy answers containers through the forward proxy only"
}

# stop: stops what up.sh started, the processes identified by their pidfiles (or by exactly the
# command line up.sh starts them with), and removes the firewall rule. The images, caches and
# registry data stay.
stop() {
  need_root
  local gateway=
  if engine_up; then
    gateway=$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}')
    if docker inspect goapp-e2e-git-sshd >/dev/null 2>&1; then
      say "removing the SSH git server's container"
      docker rm -f goapp-e2e-git-sshd >/dev/null
    fi
  fi
  stop_started "$GOAPP_STATE/tinyproxy.pid" "([^ ]*/)?tinyproxy -d -c $(re_escape "$GOAPP_STATE/tinyproxy.conf")" "the forward proxy"
  stop_started "$GOAPP_STATE/goproxy-hidden.pid" "$(server_re "$gateway" 5081)" "the proxied module proxy's server"
  stop_started "$GOAPP_STATE/goproxy-http.pid" "$(server_re "$gateway" 5080)" "the module proxy's server"
  rm -f "$GOAPP_STATE/goproxy.served" "$GOAPP_STATE/goproxy-hidden.served"
  local rule=(INPUT -p tcp --dport 5081 ! -i lo -j REJECT --reject-with tcp-reset)
  while iptables -C "${rule[@]}" 2>/dev/null; do iptables -D "${rule[@]}"; done
  stop_started "$GOAPP_STATE/private-git.pid" "([^ ]*/)?python3(\.[0-9]+)? $(re_escape "$here/private-git.py") .*" "the private Git server"
  rm -f "$GOAPP_STATE/private-git.served"
  stop_started "$GOAPP_STATE/docker20/dockerd.pid" "$(re_escape "$GOAPP_STATE/docker20/bin/usr/sbin/dockerd") .*" "Docker 20.10"
  if ip link show goapp20 >/dev/null 2>&1; then
    say "removing Docker 20.10's bridge"
    ip link del goapp20
  fi
  stop_started "$GOAPP_STATE/dockerd.pid" "dockerd --containerd=/run/containerd/containerd\.sock" "dockerd"
  stop_started "$GOAPP_STATE/containerd.pid" "containerd" "containerd"
  stop_started "$GOAPP_STATE/registry.pid" "docker-registry serve $(re_escape "$GOAPP_STATE/registry.yml")" "the registry"
  say "stopped"
}

start() {
  need_root
  install_packages
  start_engine
  register_binfmt
  start_registry
  docker buildx inspect default >/dev/null
  start_goproxy
  start_proxy
  start_private_git
  install_current_buildx
  start_old_engine
  say "engine (and an old one), buildx (and a current one), binfmt, registry, module proxies, forward proxy and private Git server are up"
}

case "${1:-all}" in
  engine) start ;;
  images) shift; "$here/base-images.sh" "$@" ;;
  all) start; "$here/base-images.sh"; start_private_ssh; check_proxy ;;
  stop) stop ;;
  *) echo "usage: $0 [engine|images [NAME...]|all|stop]" >&2; exit 2 ;;
esac
