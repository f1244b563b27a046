#!/usr/bin/env bash
# Set up everything jupyter-mlops needs on a fresh machine, idempotently:
#   a Python venv (.venv) with jupyter-mlops installed in development mode (this builds the
#   frontend), the labextension linked into the venv, and with --with-tests the browser
#   (Debian's chromium) and the UI tests' packages.
# Usage: scripts/setup.sh [--with-tests]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${JUPYTER_MLOPS_VENV:-$ROOT/.venv}"
WITH_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --with-tests) WITH_TESTS=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# pip repeats a warning for every package when the machine's pip.conf names find-links
# folders that do not exist; keep the log readable.
pip_install() {
  python -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup.sh: need root to run: $*" >&2; return 1; fi
}

apt_install() {
  # Install Debian packages that are missing; `apt-get update` only when something is.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "setup.sh: please install: ${missing[*]}" >&2; return 1; }
  say "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- toolchain checks -------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "setup.sh: Python 3.10 or newer is needed (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
command -v node >/dev/null || apt_install nodejs npm
apt_install git

# --- Python environment -----------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "Creating the virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
export PATH="$VENV/bin:$PATH"

STAMP="$VENV/.jupyter-mlops-installed"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ] || [ "$ROOT/package.json" -nt "$STAMP" ]; then
  say "Installing jupyter-mlops and its development tools (first time: a few minutes)"
  pip_install --upgrade pip
  # `jupyter labextension develop` leaves install.json in the linked build folder, which
  # the wheel would then carry twice.
  rm -f "$ROOT/jupyter_mlops/labextension/install.json"
  pip_install -e "$ROOT[dev,drift]"
  touch "$STAMP"
fi

BUILT="$ROOT/jupyter_mlops/labextension/package.json"
if [ ! -f "$BUILT" ] || [ ! -d "$ROOT/node_modules" ] ||
  [ -n "$(cd "$ROOT" && find src style schema package.json -newer "$BUILT" -print -quit)" ]; then
  say "Building the frontend"
  (cd "$ROOT" && jlpm install && jlpm build)
fi
# Serve the frontend from the checkout (a link), not from the copy an editable install may
# have made, so that a rebuild is what JupyterLab loads.
if [ ! -L "$VENV/share/jupyter/labextensions/jupyter-mlops" ]; then
  (cd "$ROOT" && jupyter labextension develop --overwrite . >/dev/null)
fi

# --- test tooling -----------------------------------------------------------------------
if [ "$WITH_TESTS" -eq 1 ]; then
  apt_install chromium
  # Monitoring tests start a Pushgateway and a Prometheus on loopback and run promtool
  # (check rules, test rules); the packages start no service in a container.
  apt_install prometheus prometheus-pushgateway
  # Container builds and runs: rootful Podman on the Docker API and a local base image
  # (no Docker engine, no registry pulls here); see scripts/containers.sh.
  if [ -z "${DOCKER_HOST:-}" ]; then
    "$ROOT/scripts/containers.sh" setup
  fi
  # Airflow, for tests/test_export_airflow.py (the airflow target's DAGs must import in a
  # real Airflow). It conflicts with jupyter-mlops' own dependencies, so it has a venv of
  # its own; the versions are pinned (no constraints file can be fetched here, only PyPI).
  # First time: 2 to 3 minutes (no pip cache) and 450 MB; then nothing until the pins change.
  AIRFLOW_VENV="${JUPYTER_MLOPS_AIRFLOW_VENV:-$ROOT/.venv-airflow}"
  AIRFLOW_PINS="apache-airflow==3.3.2 apache-airflow-providers-cncf-kubernetes==10.25.0 apache-airflow-providers-docker==4.6.1"
  AIRFLOW_STAMP="$AIRFLOW_VENV/.jupyter-mlops-installed"
  if [ ! -f "$AIRFLOW_STAMP" ] || [ "$(cat "$AIRFLOW_STAMP")" != "$AIRFLOW_PINS" ]; then
    say "Installing Airflow into $AIRFLOW_VENV for the airflow target's tests (2-3 minutes)"
    [ -x "$AIRFLOW_VENV/bin/python" ] || "$PYTHON" -m venv "$AIRFLOW_VENV"
    # shellcheck disable=SC2086  # the pins are words
    (PATH="$AIRFLOW_VENV/bin:$PATH" pip_install $AIRFLOW_PINS)
    echo "$AIRFLOW_PINS" >"$AIRFLOW_STAMP"
  fi
  UI_STAMP="$ROOT/ui-tests/node_modules/.jupyter-mlops-installed"
  if [ ! -f "$UI_STAMP" ] || [ "$ROOT/ui-tests/package.json" -nt "$UI_STAMP" ] ||
    [ "$ROOT/ui-tests/yarn.lock" -nt "$UI_STAMP" ]; then
    say "Installing the UI tests' packages"
    (cd "$ROOT/ui-tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install)
    touch "$UI_STAMP"
  fi
fi

say "Ready: $(jupyter-mlops --version)"
