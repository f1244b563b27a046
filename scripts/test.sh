#!/usr/bin/env bash
# Set everything up (if needed) and run the whole test suite: linters and type checks,
# the API types' drift check, the frontend unit tests, pytest against the real server
# extension (real MLflow server, git, DVC, kernels) and the Galata UI tests in chromium.
# Every step runs; the script fails if any step failed.
# Usage: scripts/test.sh [--only NAME]...   (names: lint types api jest pytest fuzz ui)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" --with-tests || exit 1
export PATH="${JUPYTER_MLOPS_VENV:-$ROOT/.venv}/bin:$PATH"
cd "$ROOT"

ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY+=("$2"); shift 2 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

passed=0; failed=0; failures=()
step() {
  local name="$1" title="$2"; shift 2
  if [ ${#ONLY[@]} -gt 0 ] && [[ ! " ${ONLY[*]} " =~ " $name " ]]; then return 0; fi
  printf '\n\033[1m==> %s\033[0m\n' "$title"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); printf '\033[32m--- ok: %s (%ss)\033[0m\n' "$title" $((SECONDS - start))
  else
    failed=$((failed + 1)); failures+=("$title")
    printf '\033[31m--- FAILED: %s (%ss)\033[0m\n' "$title" $((SECONDS - start))
  fi
}

api_types_current() {
  # The TypeScript types must be what the server's OpenAPI document generates.
  jlpm api:types >/dev/null && git diff --exit-code --stat -- src/api/schema.d.ts
}

extension_enabled() {
  jupyter server extension list 2>&1 | grep -E "jupyter_mlops.*OK" &&
    jupyter labextension list 2>&1 | grep -E "jupyter-mlops.*enabled.*OK"
}

ui_tests() {
  (cd ui-tests && CI="${CI:-1}" npx playwright test)
}

step lint "Python lint and format (ruff)" bash -c 'ruff check . && ruff format --check .'
step types "Python types (mypy)" mypy
step lint "TypeScript lint and format (eslint, prettier)" jlpm lint:check
step api "TypeScript API types match the OpenAPI document" api_types_current
step jest "Frontend unit tests (jest)" jlpm test
step pytest "Extension installed and enabled" extension_enabled
step pytest "Python tests against the real stack (pytest)" python -m pytest
step fuzz "API fuzzing (Schemathesis)" env MLOPS_API_FUZZ=1 python -m pytest tests/test_api_fuzz.py -q
step ui "UI tests in Debian's chromium (Galata)" ui_tests

echo
if [ $failed -gt 0 ]; then
  printf 'Failed steps:\n'; printf '  - %s\n' "${failures[@]}"
fi
echo "test steps: $passed passed, $failed failed"
[ $failed -eq 0 ]
