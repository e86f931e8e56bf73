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
exec "${MYPY:-.venv/bin/mypy}" "$tree/flagger" "$@"
