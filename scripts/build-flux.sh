#!/usr/bin/env bash
# Build Flux's source-, kustomize- and helm-controller from the Go module proxy and cache them,
# with the CRDs and RBAC taken from the same module versions.
#
# Output: ~/.cache/flagger/flux/source-<v>_kustomize-<v>_helm-<v>/{bin,crds,rbac} (override the
# root with FLAGGER_FLUX_CACHE). A second run with the same versions is a no-op.
# Prints the cache directory on its last line. With --cached: exit 3 instead of building.
set -euo pipefail

SOURCE_CONTROLLER_VERSION="${SOURCE_CONTROLLER_VERSION:-v1.9.6}"
KUSTOMIZE_CONTROLLER_VERSION="${KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}"
HELM_CONTROLLER_VERSION="${HELM_CONTROLLER_VERSION:-v1.6.4}"

cache_root="${FLAGGER_FLUX_CACHE:-$HOME/.cache/flagger/flux}"
dest="$cache_root/source-${SOURCE_CONTROLLER_VERSION}_kustomize-${KUSTOMIZE_CONTROLLER_VERSION}_helm-${HELM_CONTROLLER_VERSION}"
controllers=(source-controller kustomize-controller helm-controller)

# Versions a controller requires that the module proxy here does not serve, replaced by the
# nearest served release of the same minor (checked to build): "controller old new@version".
UNSERVED_REPLACES=(
  "source-controller github.com/fluxcd/pkg/artifact github.com/fluxcd/pkg/artifact@v0.18.0"
)

version_of() {
  case "$1" in
    source-controller) echo "$SOURCE_CONTROLLER_VERSION" ;;
    kustomize-controller) echo "$KUSTOMIZE_CONTROLLER_VERSION" ;;
    helm-controller) echo "$HELM_CONTROLLER_VERSION" ;;
  esac
}

have_all() {
  for c in "${controllers[@]}"; do
    [ -x "$dest/bin/$c" ] && [ -d "$dest/crds/$c" ] && [ -d "$dest/rbac/$c" ] || return 1
  done
}

if have_all; then
  echo "flux controllers cached in $dest (nothing to build)" >&2
  echo "$dest"
  exit 0
fi
if [ "${1:-}" = "--cached" ]; then
  echo "flux controllers not built yet" >&2
  exit 3
fi

command -v go >/dev/null || { echo "go is required to build Flux's controllers" >&2; exit 1; }
start=$(date +%s)
mkdir -p "$dest/bin" "$dest/crds" "$dest/rbac"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

for c in "${controllers[@]}"; do
  v=$(version_of "$c")
  mod="github.com/fluxcd/$c"
  if [ ! -x "$dest/bin/$c" ]; then
    echo "building $c $v" >&2
    mkdir -p "$work/$c" && cd "$work/$c"
    go mod init "fluxbuild/$c" >/dev/null 2>&1
    go mod edit -go=1.26.0
    # The controller's own go.mod replaces are ignored for a dependency: repeat every one that
    # points at a published module (its `./api` replace is covered by the pinned api version).
    gomod=$(go mod download -json "$mod@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    while IFS=' ' read -r old new newv; do
      go mod edit -replace="$old=$new@$newv"
    done < <(go mod edit -json "$gomod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"].get("Version"):
        print(r["Old"]["Path"], r["New"]["Path"], r["New"]["Version"])
')
    for line in "${UNSERVED_REPLACES[@]}"; do
      read -r owner old new <<< "$line"
      if [ "$owner" = "$c" ]; then go mod edit -replace="$old=$new"; fi
    done
    go get "$mod@$v" >&2
    go build -trimpath -ldflags "-s -w" -o "$dest/bin/$c" "$mod"
  fi
  src="$(go env GOMODCACHE)/$mod@$v/config"
  if [ ! -d "$src" ]; then
    go mod download "$mod@$v"
  fi
  rm -rf "$dest/crds/$c" "$dest/rbac/$c"
  mkdir -p "$dest/crds/$c" "$dest/rbac/$c"
  cp "$src"/crd/bases/*.yaml "$dest/crds/$c/"
  cp "$src/rbac/role.yaml" "$dest/rbac/$c/"
  chmod -R u+w "$dest/crds/$c" "$dest/rbac/$c"
done

have_all || { echo "build finished but something is missing in $dest" >&2; exit 1; }
echo "flux controllers built in $(( $(date +%s) - start ))s into $dest" >&2
echo "$dest"
