#!/usr/bin/env bash
# import-linter over the whole installed package: flagger/ plus providers/, metrics/ and webhooks/,
# which install as flagger.providers, flagger.metrics and flagger.webhooks. import-linter finds the
# checkout's flagger/ alone (the setuptools package-dir mapping is invisible to it), so a tree of
# hard links gives it the installed layout and every module is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.contracts-tree
rm -rf "$tree" && mkdir -p "$tree"
cp -al flagger "$tree/flagger"
for sub in providers metrics webhooks; do cp -al "$sub" "$tree/flagger/$sub"; done
find "$tree" -name __pycache__ -prune -exec rm -rf {} +
# The venv's python (beside lint-imports); the editable install's import hook, which would send
# `flagger` back to the checkout's flagger/, is dropped so that the tree is imported instead.
python="$(dirname "$(realpath -s "${LINT_IMPORTS:-.venv/bin/lint-imports}")")/python"
# From inside the tree, so that `flagger` resolves there and not to the checkout's flagger/.
cd "$tree"
PYTHONPATH="$PWD" exec "$python" - --no-cache --config ../pyproject.toml "$@" <<'PY'
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not f.__module__.startswith("__editable__")]
import flagger.providers  # noqa: E402  (fails here, not later, if the tree is not what is seen)

from importlinter.cli import lint_imports_command  # noqa: E402

sys.exit(lint_imports_command())
PY
