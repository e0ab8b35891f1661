#!/usr/bin/env bash
# Builds what the cluster tests run from Kubernetes' Go modules, at the release pinned in
# test/kubernetes/components/go.mod: kubelet, kube-apiserver, kube-controller-manager,
# kube-scheduler and kubectl, into .cache/kubernetes/bin/, CoreDNS (the cluster DNS, pinned in
# test/kubernetes/coredns/go.mod) into .cache/kubernetes/coredns/, and the tests' workload
# program (pause process and test containers) into .cache/kubernetes/workload/.
#
# PREPULL_KUBERNETES_BINARIES=DIR uses release binaries of the same version from DIR instead of
# building them (as envtest's KUBEBUILDER_ASSETS does); CoreDNS and the workload are always built.
# The Go build cache (go env GOCACHE) makes a second build take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

components=test/kubernetes/components
out=.cache/kubernetes
commands=(kubelet kube-apiserver kube-controller-manager kube-scheduler kubectl)

fail() {
  echo "build-kubernetes: $1" >&2
  exit 1
}

go=$(command -v go || true)
[ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
[ -n "$go" ] || fail "Go is not installed (https://go.dev/doc/install); it builds Kubernetes and the test workload"

version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$components/go.mod")
[ -n "$version" ] || fail "$components/go.mod names no k8s.io/kubernetes release"
minor=$(echo "$version" | cut -d. -f2)

mkdir -p "$out/workload"
(cd "$components" && CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "../../../$out/workload/" ./workload) ||
  fail "the test workload did not build"

mkdir -p "$out/coredns"
(cd test/kubernetes/coredns && "$go" build -trimpath -ldflags "-s -w" -o "../../../$out/coredns/" github.com/coredns/coredns) ||
  fail "CoreDNS did not build"

if [ -n "${PREPULL_KUBERNETES_BINARIES:-}" ]; then
  for command in "${commands[@]}"; do
    binary="$PREPULL_KUBERNETES_BINARIES/$command"
    [ -x "$binary" ] || fail "PREPULL_KUBERNETES_BINARIES=$PREPULL_KUBERNETES_BINARIES has no $command"
    if [ "$command" = kubectl ]; then
      found=$("$binary" version --client 2>/dev/null | awk 'NR == 1 { print $NF }' || true)
    else
      found=$("$binary" --version 2>/dev/null | awk '{ print $NF }' || true)
    fi
    [ "$found" = "$version" ] ||
      fail "$binary is ${found:-of no known version}; the cluster tests are pinned to $version ($components/go.mod)"
  done
  echo "build-kubernetes: using the $version binaries in $PREPULL_KUBERNETES_BINARIES" >&2
  exit 0
fi

package=k8s.io/component-base/version
started=$(date +%s)
echo "build-kubernetes: building Kubernetes $version (${commands[*]}) with $("$go" env GOVERSION)" >&2
mkdir -p "$out/bin"
(cd "$components" && "$go" build -trimpath \
  -ldflags "-s -w -X $package.gitVersion=$version -X $package.gitMajor=1 -X $package.gitMinor=$minor -X $package.gitTreeState=clean" \
  -o "../../../$out/bin/" "${commands[@]/#/k8s.io/kubernetes/cmd/}") ||
  fail "building Kubernetes $version failed (see above)"
echo "$version" >"$out/bin/VERSION"
echo "build-kubernetes: Kubernetes $version built in $(($(date +%s) - started)) s" >&2
