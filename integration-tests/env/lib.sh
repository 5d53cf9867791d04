# Shared by the environment scripts (sourced, not run).

# The Debian archive this machine already uses for bookworm; never a hard-coded host.
archive_url() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ]; then
    awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f"
  else
    awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list
  fi
}
