#!/usr/bin/env bash
# Set everything up (if needed) and start JupyterLab with jupyter-mlops on the demo project.
# The demo project is a copy of demo/ made a git project of its own, once, in demo-project/
# (JUPYTER_MLOPS_DEMO_DIR to put it elsewhere; delete it to start over). It runs on
# embedded defaults: an MLflow SQLite store in its .mlops/, DVC in the project (set up by
# the notebook's first %snapshot), jobs run locally. Extra arguments go to `jupyter lab`
# (e.g. --port 9999).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
export PATH="${JUPYTER_MLOPS_VENV:-$ROOT/.venv}/bin:$PATH"

# Image builds from the Export dialog: use DOCKER_HOST if set, else Podman's Docker API
# when Podman is set up (scripts/containers.sh setup); jobs run locally without either.
if [ -z "${DOCKER_HOST:-}" ] && command -v podman >/dev/null && [ -f "$ROOT/.containers/storage.conf" ]; then
  eval "$("$ROOT/scripts/containers.sh" start)" || echo "demo.sh: no container engine; builds disabled" >&2
fi
# Machines behind a TLS-inspecting proxy trust extra CA certificates: builds need them too
# (the product's setting; see docs/export.md).
if [ -z "${JUPYTER_MLOPS_CA_CERTS:-}" ] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  export JUPYTER_MLOPS_CA_CERTS=/usr/local/share/ca-certificates
fi

DEMO="${JUPYTER_MLOPS_DEMO_DIR:-$ROOT/demo-project}"
"$ROOT/scripts/demo-project.sh" "$DEMO"

args=(--ServerApp.root_dir="$DEMO" --LabApp.default_url=/lab/tree/getting-started.ipynb)
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)
# Without a display there is no browser to open: print the URL instead.
[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ] && args+=(--no-browser)

exec jupyter lab "${args[@]}" "$@"
