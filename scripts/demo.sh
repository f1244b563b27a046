#!/usr/bin/env bash
# Set everything up (if needed) and start JupyterLab with jupyter-mlops on the demo project.
# The demo runs on embedded defaults: an MLflow SQLite store in demo/.mlops/, DVC in the
# project, jobs run locally. Extra arguments go to `jupyter lab` (e.g. --port 9999).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
export PATH="${JUPYTER_MLOPS_VENV:-$ROOT/.venv}/bin:$PATH"

args=(--ServerApp.root_dir="$ROOT/demo" --LabApp.default_url=/lab/tree/getting-started.ipynb)
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)
# Without a display there is no browser to open: print the URL instead.
[ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ] && args+=(--no-browser)

exec jupyter lab "${args[@]}" "$@"
