#!/usr/bin/env bash
# Builds the agent's container image from the Dockerfile with buildah (no daemon) and pushes it.
#
#   bash scripts/build-agent-image.sh REGISTRY_HOST [TAG]    # pushes REGISTRY_HOST/prepull/prepull:TAG
#
# Environment: PREPULL_IMAGE_STANDINS=1 (the default) builds test stand-ins for the Dockerfile's
# two bases when they are not in buildah's storage, so the build runs where neither Docker Hub
# nor gcr.io is reachable; =0 leaves FROM to pull the real bases. BUILDAH_ISOLATION is
# buildah's own; chroot (the default here) needs no user or network namespaces, so the build
# runs as root in a container or VM as well as on a workstation.
#
# The stand-ins are TEST STAND-INS, not the real bases: files at the same paths, tagged with the
# same names, built from Debian bookworm packages and the Node 24 binary of the npm `node`
# package this project pins:
#   docker.io/library/node:24-bookworm-slim   /bin/sh (dash), glibc, libstdc++, node and npm in
#                                             /usr/local (as the official image lays them out)
#   gcr.io/distroless/nodejs24-debian12       glibc, libstdc++, libgcc, CA certificates,
#                                             /nodejs/bin/node; no shell; root by default
# The Dockerfile stays the single definition: what is built here is what `docker build .` builds.
set -euo pipefail

registry=${1:?usage: build-agent-image.sh REGISTRY_HOST [TAG]}
tag=${2:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/agent-image"
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
BUILD_BASE=docker.io/library/node:24-bookworm-slim
RUNTIME_BASE=gcr.io/distroless/nodejs24-debian12:latest
# npm as Node 24 ships it; the npm `node` package carries only the node binary.
NPM_VERSION=${PREPULL_STANDIN_NPM:-11}

bash "$root/scripts/install-debian-packages.sh" buildah=buildah

# The real Node 24 binary behind the `node` package's launcher (node_modules/.bin/node).
node_binary() {
  local bin
  bin=$(readlink -f "$root/node_modules/node/bin/node")
  if ! "$bin" --version | grep -q '^v24\.'; then
    echo "build-agent-image: $bin is not Node 24 (run npm ci)" >&2
    exit 1
  fi
  echo "$bin"
}

# Debian bookworm packages unpacked into a root filesystem, without maintainer scripts.
unpack_debs() {
  local rootfs=$1
  shift
  mkdir -p "$cache/debs" "$rootfs"
  (cd "$cache/debs" && for pkg in "$@"; do
    # A machine that never read Debian's package lists reads them once.
    ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download -q "$pkg" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download -q "$pkg" >/dev/null; }
  done)
  for pkg in "$@"; do dpkg -x "$(ls "$cache/debs/${pkg}"_*.deb | head -n1)" "$rootfs"; done
  # What base-files and the postinst scripts would have made.
  mkdir -p "$rootfs"/{etc,tmp,root,home} "$rootfs/etc/ssl/certs"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  if [ -d "$rootfs/usr/share/ca-certificates" ]; then
    find "$rootfs/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat \
      >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  rm -rf "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian"
}

# Commits a root filesystem as an image named like the real base, so FROM finds it locally.
commit_standin() {
  local name=$1 rootfs=$2
  shift 2
  local ctr
  ctr=$(buildah from scratch)
  buildah copy --quiet "$ctr" "$rootfs" / >/dev/null
  buildah config --label "dev.prepull.test-stand-in=true" "$@" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
  echo "build-agent-image: test stand-in $name built" >&2
}

has_image() { buildah images --quiet "$1" >/dev/null 2>&1; }

if [ "${PREPULL_IMAGE_STANDINS:-1}" = 1 ]; then
  node=$(node_binary)
  if ! has_image "$RUNTIME_BASE"; then
    rootfs="$cache/distroless"
    rm -rf "$rootfs"
    unpack_debs "$rootfs" libc6 libgcc-s1 libstdc++6 ca-certificates
    mkdir -p "$rootfs/nodejs/bin"
    cp "$node" "$rootfs/nodejs/bin/node"
    commit_standin "$RUNTIME_BASE" "$rootfs" \
      --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
      --user 0 --workingdir / --entrypoint '["/nodejs/bin/node"]'
  fi
  if ! has_image "$BUILD_BASE"; then
    rootfs="$cache/node-slim"
    rm -rf "$rootfs"
    # coreutils for npm's `#!/usr/bin/env node`, with the libraries it links.
    unpack_debs "$rootfs" libc6 libgcc-s1 libstdc++6 ca-certificates dash coreutils \
      libacl1 libattr1 libgmp10 libselinux1 libpcre2-8-0
    ln -sf dash "$rootfs/bin/sh"
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules"
    cp "$node" "$rootfs/usr/local/bin/node"
    # npm's tarball bundles its dependencies: unpacked, it runs as the official image's npm does.
    (cd "$cache" && [ -f "npm-$NPM_VERSION.tgz" ] || { npm pack --silent "npm@$NPM_VERSION" >npm.name &&
      mv "$(cat npm.name)" "npm-$NPM_VERSION.tgz"; })
    mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
    tar -xzf "$cache/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
    # A builder behind a TLS-inspecting proxy trusts its CA through NODE_EXTRA_CA_CERTS; the
    # stand-in carries the same trust so `npm ci` reaches the registry (the official image does
    # not; the runtime stage copies only node_modules from this stage, never this file).
    extra_ca=()
    if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
      cp "$NODE_EXTRA_CA_CERTS" "$rootfs/etc/ssl/certs/builder-extra-ca.crt"
      extra_ca=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/builder-extra-ca.crt)
    fi
    commit_standin "$BUILD_BASE" "$rootfs" "${extra_ca[@]}" \
      --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env NODE_VERSION="$("$node" --version | cut -c2-)" \
      --cmd '["node"]'
  fi
fi

image="$registry/prepull/prepull:$tag"
revision=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json")
buildah build --layers=false --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  -f "$root/Dockerfile" -t "$image" "$root" >&2
buildah push --quiet --tls-verify=false "$image" "docker://$image" >&2
# What callers read: the reference pushed and the image's unpacked size.
echo "image=$image"
echo "size=$(buildah images --format '{{.Size}}' "$image" | head -n1)"
# The registry has it now; the local copy would only pile up, one per registry and tag.
buildah rmi "$image" >/dev/null
