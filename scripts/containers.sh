#!/usr/bin/env bash
# A container engine for building and running job images on a machine without Docker:
# rootful Podman serving the Docker API on a socket, with its configuration and storage in
# one folder (default .containers/ in the checkout), and a local `python:X.Y-slim` base
# image made from Debian with debootstrap, so that builds need no registry pull.
#
# Usage: scripts/containers.sh setup   install podman, write the configuration, make the
#                                      base image (idempotent; first time about 1.5 min)
#        scripts/containers.sh start   start the Docker API service (if not running) and
#                                      print `export ...` lines: eval "$(scripts/containers.sh start)"
#        scripts/containers.sh stop    stop the service
#        scripts/containers.sh env     print the `export ...` lines only
#
# With Docker installed (or DOCKER_HOST pointing at an engine) none of this is needed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${JUPYTER_MLOPS_CONTAINERS:-$ROOT/.containers}"
PYTHON_VERSION="${JUPYTER_MLOPS_BASE_PYTHON:-$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
BASE_IMAGE="docker.io/library/python:${PYTHON_VERSION}-slim"
SOCKET="$STATE/podman.sock"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "containers.sh: need root to run: $*" >&2; return 1; fi
}

environment() {
  printf 'export CONTAINERS_CONF=%q\n' "$STATE/containers.conf"
  printf 'export CONTAINERS_STORAGE_CONF=%q\n' "$STATE/storage.conf"
  printf 'export DOCKER_HOST=%q\n' "unix://$SOCKET"
}

write_configuration() {
  mkdir -p "$STATE/storage" "$STATE/run"
  local nofile
  nofile="$(ulimit -Hn)"
  [ "$nofile" = unlimited ] && nofile=1048576
  # runc: crun fails on some cgroup setups; ulimits within the host's hard limits.
  cat >"$STATE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
  cat >"$STATE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run"
EOF
}

podman_() {
  CONTAINERS_CONF="$STATE/containers.conf" CONTAINERS_STORAGE_CONF="$STATE/storage.conf" podman "$@"
}

debian_mirror() {
  local mirror=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
  elif [ -f /etc/apt/sources.list ]; then
    mirror="$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)"
  fi
  echo "${mirror:-http://deb.debian.org/debian}"
}

make_base_image() {
  if podman_ image exists "$BASE_IMAGE"; then return 0; fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/jupyter-mlops/python-${PYTHON_VERSION}-slim.tar"
  if [ -f "$cache" ] && podman_ load -q -i "$cache" >/dev/null 2>&1 && podman_ image exists "$BASE_IMAGE"; then
    return 0
  fi
  say "Making the base image $BASE_IMAGE from Debian (debootstrap; about a minute)"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  as_root debootstrap --variant=minbase bookworm "$work/rootfs" "$(debian_mirror)" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; return 1; }
  as_root tar -C "$work/rootfs" -c . | podman_ import -q - localhost/debian:bookworm >/dev/null
  # What the official slim image offers: `python` and `pip` on PATH, ca-certificates, and
  # a Python whose packages pip may install (a venv, as Debian's Python is externally managed).
  cat >"$work/Containerfile" <<'EOF'
FROM localhost/debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /usr/local/python \
 && ln -s /usr/local/python/bin/python /usr/local/bin/python \
 && ln -s /usr/local/python/bin/pip /usr/local/bin/pip
ENV PATH=/usr/local/python/bin:$PATH LANG=C.UTF-8
CMD ["python3"]
EOF
  podman_ build -q -t "$BASE_IMAGE" -f "$work/Containerfile" "$work" >/dev/null
  mkdir -p "$(dirname "$cache")"
  podman_ save -q -o "$cache" "$BASE_IMAGE" >/dev/null 2>&1 || rm -f "$cache"
}

running() {
  [ -S "$SOCKET" ] && curl -fsS --max-time 3 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1
}

start_service() {
  if running; then return 0; fi
  rm -f "$SOCKET"
  CONTAINERS_CONF="$STATE/containers.conf" CONTAINERS_STORAGE_CONF="$STATE/storage.conf" \
    nohup podman system service --time=0 "unix://$SOCKET" >"$STATE/service.log" 2>&1 &
  echo $! >"$STATE/service.pid"
  for _ in $(seq 100); do running && return 0; sleep 0.1; done
  echo "containers.sh: the podman service did not start; see $STATE/service.log" >&2
  return 1
}

stop_service() {
  if [ -f "$STATE/service.pid" ]; then
    kill "$(cat "$STATE/service.pid")" 2>/dev/null || true
    rm -f "$STATE/service.pid" "$SOCKET"
  fi
}

case "${1:-setup}" in
  setup)
    if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
      say "Installing podman, runc, debootstrap"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        podman runc debootstrap buildah curl ca-certificates >/dev/null
    fi
    write_configuration
    make_base_image
    ;;
  start) write_configuration; start_service; environment ;;
  stop) stop_service ;;
  env) environment ;;
  *) echo "containers.sh: unknown command $1 (setup, start, stop, env)" >&2; exit 2 ;;
esac
