#!/usr/bin/env bash
# Builds helm, which the chart tests (test/deploy/chart*.test.ts, test/kubernetes/helm.test.ts)
# run, from its Go module at the release pinned in test/kubernetes/helm/go.mod, into
# .cache/kubernetes/helm/helm. The version is stamped as helm's own Makefile stamps a tagged
# release (internal/version: version, empty metadata, clean tree); the module proxy does not
# carry the commit, so `helm version` shows none. The Go build cache (go env GOCACHE) makes a
# second build take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

module=test/kubernetes/helm
out=.cache/kubernetes/helm

fail() {
  echo "build-helm: $1" >&2
  exit 1
}

go=$(command -v go || true)
[ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
[ -n "$go" ] || fail "Go is not installed (https://go.dev/doc/install); it builds helm for the chart tests"

version=$(awk '$1 == "helm.sh/helm/v4" { print $2 }' "$module/go.mod")
[ -n "$version" ] || fail "$module/go.mod names no helm.sh/helm/v4 release"

package=helm.sh/helm/v4/internal/version
started=$(date +%s)
echo "build-helm: building helm $version with $("$go" env GOVERSION)" >&2
mkdir -p "$out"
(cd "$module" && CGO_ENABLED=0 "$go" build -trimpath \
  -ldflags "-w -s -X $package.version=$version -X $package.metadata= -X $package.gitTreeState=clean" \
  -o "../../../$out/helm" helm.sh/helm/v4/cmd/helm) ||
  fail "building helm $version failed (see above)"
built=$("$out/helm" version --template '{{ .Version }}' 2>/dev/null || true)
[ "$built" = "$version" ] || fail "$out/helm says it is ${built:-of no known version}, not $version"
echo "build-helm: helm $version built in $(($(date +%s) - started)) s" >&2
