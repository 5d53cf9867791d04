# Shared by the environment scripts (sourced, not run).

# archive_url [security]: the Debian archive this machine already uses for bookworm, or (with
# `security`) the one it uses for bookworm-security; never a hard-coded host.
archive_url() {
  local security=0 f=/etc/apt/sources.list.d/debian.sources
  [ "${1:-}" = security ] && security=1
  if [ -f "$f" ]; then
    awk -v sec="$security" '/^URIs:/ && ($2 ~ /security/) == sec {print $2; exit}' "$f"
  else
    awk -v sec="$security" '$1=="deb" && ($3 == "bookworm-security") == sec && $3 ~ /^bookworm(-security)?$/ {print $2; exit}' /etc/apt/sources.list
  fi
}

# private_apt NAME URL SUITE TOOL ARG...: apt-get or apt-cache (TOOL) with SUITE of the archive
# at URL, for amd64 and arm64, as its only source. Its sources list, lists and cache live under
# $GOAPP_CACHE/NAME and are named only through -o options: the system's own apt setup and lists
# are left as they are. (GOAPP_CACHE must be set.)
private_apt() {
  local dir=$GOAPP_CACHE/$1 url=$2 suite=$3 tool=$4 line
  shift 4
  line="deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $url $suite main"
  mkdir -p "$dir/lists/partial" "$dir/sources.list.d" "$dir/cache/archives/partial"
  [ "$(cat "$dir/sources.list" 2>/dev/null)" = "$line" ] || echo "$line" > "$dir/sources.list"
  "$tool" -o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts="$dir/sources.list.d" \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o APT::Architectures=amd64,arm64 \
    -o Acquire::Languages=none -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
    -o APT::Sandbox::User=root "$@"
}

# sid_apt TOOL ARG...: private_apt with Debian unstable.
sid_apt() { private_apt sid-apt "$(archive_url)" sid "$@"; }

# sid_update: refreshes unstable's package lists, once per run of a script (subshells
# included: the stamp holds the script's process id).
sid_update() {
  local stamp=$GOAPP_CACHE/sid-apt/updated
  if [ "$(cat "$stamp" 2>/dev/null)" = "$$" ] && [ -n "$(find "$stamp" -mmin -60)" ]; then
    return 0
  fi
  sid_apt apt-get -qq update
  echo "$$" > "$stamp"
}

# sid_lists_ready: whether unstable's lists are there for both architectures.
sid_lists_ready() {
  ls "$GOAPP_CACHE"/sid-apt/lists/*_sid_main_binary-amd64_Packages* >/dev/null 2>&1 &&
    ls "$GOAPP_CACHE"/sid-apt/lists/*_sid_main_binary-arm64_Packages* >/dev/null 2>&1
}

# sid_has PACKAGE[:ARCH] VERSION: whether unstable's lists have that version of the package.
sid_has() {
  # (grep reads all of it: with pipefail, a reader that stops early can fail the pipe.)
  sid_apt apt-cache show "$1=$2" 2>/dev/null | grep '^Package:' >/dev/null
}

# sid_candidate PACKAGE[:ARCH]: unstable's current version of the package.
sid_candidate() {
  sid_apt apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" && !v {v = $2} END {if (v) print v}'
}

# sid_version PACKAGE[:ARCH] PINNED: PINNED if unstable has it, else unstable's current version
# (the lists are refreshed before giving up on PINNED). Prints nothing if unstable has neither.
sid_version() {
  sid_lists_ready || sid_update
  if ! sid_has "$1" "$2"; then
    sid_update
    sid_has "$1" "$2" || { sid_candidate "$1"; return 0; }
  fi
  echo "$2"
}

# sid_download DIR PACKAGE[:ARCH]=VERSION...: downloads those .debs into DIR.
sid_download() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && sid_apt apt-get -qq download "$@")
}
