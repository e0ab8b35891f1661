#!/usr/bin/env bash
# Installs what the cluster tests run besides the sandbox's parts: Debian's CNI plugins, etcd 3.5
# (Debian sid, through scripts/fetch-runtimes.sh), and Kubernetes built from its Go modules
# (scripts/build-kubernetes.sh; PREPULL_KUBERNETES_BINARIES names release binaries instead).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-sandbox-deps.sh
if [ ! -x /usr/lib/cni/bridge ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: containernetworking-plugins — install it (apt-get install containernetworking-plugins) or run as root" >&2
    exit 1
  fi
  echo "installing containernetworking-plugins from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends containernetworking-plugins >/dev/null
fi
bash scripts/fetch-runtimes.sh etcd
bash scripts/build-kubernetes.sh
