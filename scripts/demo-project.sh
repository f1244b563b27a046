#!/usr/bin/env bash
# Make the demo project in DEST from demo/, once: a git project of its own (so that runs
# record its commit and DVC can be set up in it by the first %snapshot), holding the
# notebook and its README. The data stays out of git: the notebook puts it under DVC.
# A DEST that exists already is left as it is (it holds your runs); delete it to start over.
# Usage: scripts/demo-project.sh DEST
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:?usage: demo-project.sh DEST}"

if [ -e "$DEST" ]; then
  echo "demo-project.sh: using the demo project in $DEST (delete it to start over)" >&2
  exit 0
fi
mkdir -p "$(dirname "$DEST")"
TMP="$(mktemp -d "$(dirname "$DEST")/.demo-project.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
# The shipped files only: not the state of a JupyterLab that was started on demo/ itself.
tar -C "$ROOT/demo" --exclude=.mlops --exclude=.dvc --exclude=.ipynb_checkpoints \
  --exclude=pipelines --exclude='*.dvc' -cf - . | tar -C "$TMP" -xf -
git -C "$TMP" init -q
# A first commit needs an identity; the user's own when git has one.
git_id=()
git -C "$TMP" config user.name >/dev/null || git_id+=(-c "user.name=jupyter-mlops demo")
git -C "$TMP" config user.email >/dev/null || git_id+=(-c "user.email=demo@jupyter-mlops.invalid")
git -C "$TMP" add .gitignore README.md getting-started.ipynb
git -C "$TMP" ${git_id[@]+"${git_id[@]}"} commit -q -m "The jupyter-mlops demo project"
mv "$TMP" "$DEST"
trap - EXIT
echo "demo-project.sh: made the demo project in $DEST" >&2
