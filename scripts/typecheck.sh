#!/usr/bin/env bash
# mypy --strict over the whole installed package: flagger/ plus providers/, metrics/ and webhooks/,
# which install as flagger.providers, flagger.metrics and flagger.webhooks. mypy cannot follow the
# setuptools package-dir mapping, so a tree of symlinks gives it the installed layout.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.typecheck
rm -rf "$tree" && mkdir -p "$tree/flagger"
for entry in flagger/*; do ln -s "../../$entry" "$tree/flagger/$(basename "$entry")"; done
for sub in providers metrics webhooks; do ln -s "../../$sub" "$tree/flagger/$sub"; done
mypy="$(realpath "${MYPY:-.venv/bin/mypy}")"
# From inside the tree, so that `flagger` resolves there and not to the checkout's flagger/.
cd "$tree" && exec "$mypy" --config-file ../pyproject.toml --cache-dir ../.mypy_cache/typecheck-tree flagger "$@"
