#!/usr/bin/env bash
# Build a local Kubernetes control plane from the Go module proxy and cache it.
#
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok
#
# Output: ~/.cache/flagger/control-plane/k8s-<v>_etcd-<v>_kwok-<v>/bin (override with
# FLAGGER_CONTROL_PLANE_CACHE). A second run with the same versions is a no-op.
# Prints the directory holding the binaries on its last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"

cache_root="${FLAGGER_CONTROL_PLANE_CACHE:-$HOME/.cache/flagger/control-plane}"
dest="$cache_root/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
bin="$dest/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

have_all() {
  for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  [ -f "$dest/kwok-stages.yaml" ] || return 1
}

if have_all; then
  echo "control plane cached in $dest (nothing to build)" >&2
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "go is required to build the control plane" >&2; exit 1; }
start=$(date +%s)
mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

# --- etcd: the server module's requires pin its published siblings, so no replaces are needed.
if [ ! -x "$bin/etcd" ]; then
  echo "building etcd $ETCD_VERSION" >&2
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init etcdbuild >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
fi

# --- kwok: a plain module without replaces.
if [ ! -x "$bin/kwok" ] || [ ! -f "$dest/kwok-stages.yaml" ]; then
  echo "building kwok $KWOK_VERSION" >&2
  mkdir -p "$work/kwok" && cd "$work/kwok"
  go mod init kwokbuild >/dev/null 2>&1
  go get "sigs.k8s.io/kwok@$KWOK_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok
  # Since v0.8.0 the binary carries no stages: take the "fast" set (node init, lease heartbeat,
  # pod ready/complete/delete) from the module, flattened into one multi-document file.
  stage_dir="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  : > "$dest/kwok-stages.yaml"
  for f in $(find "$stage_dir/node/fast" "$stage_dir/node/heartbeat-with-lease" "$stage_dir/pod/fast" -name '*.yaml' ! -name kustomization.yaml | sort); do
    printf -- '---\n' >> "$dest/kwok-stages.yaml"
    cat "$f" >> "$dest/kwok-stages.yaml"
  done
fi

# --- Kubernetes: a throwaway main module that replaces every staging module with v0.N.M.
need_k8s=0
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do [ -x "$bin/$b" ] || need_k8s=1; done
if [ "$need_k8s" = 1 ]; then
  echo "building Kubernetes $K8S_VERSION (tens of minutes on 2 cores when cold)" >&2
  staging_version="v0.${K8S_VERSION#v1.}"
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  {
    echo "module kbuild"
    echo
    echo "go 1.25.0"
    echo
    echo "godebug default=go1.25"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
             cluster-bootstrap code-generator component-base component-helpers controller-manager \
             cri-api cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt \
             kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet \
             metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
      echo "	k8s.io/$m => k8s.io/$m $staging_version"
    done
    echo ")"
  } > go.mod
  pkgs=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  go get "${pkgs[@]/%/@$K8S_VERSION}" >&2
  date_now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=$date_now -X $p.gitCommit=module-build"
  done
  go build -trimpath -ldflags "$ldf" -o "$bin/" "${pkgs[@]}"
fi

have_all || { echo "build finished but binaries are missing in $bin" >&2; exit 1; }
echo "control plane built in $(( $(date +%s) - start ))s into $dest" >&2
echo "$bin"
