#!/usr/bin/env bash
# Installs what the cluster tests run besides the sandbox's parts: Debian's CNI plugins, etcd 3.5
# (Debian sid, through scripts/fetch-runtimes.sh), and Kubernetes built from its Go modules
# (scripts/build-kubernetes.sh; PREPULL_KUBERNETES_BINARIES names release binaries instead).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-sandbox-deps.sh
bash scripts/install-debian-packages.sh /usr/lib/cni/bridge=containernetworking-plugins
bash scripts/fetch-runtimes.sh etcd
bash scripts/build-kubernetes.sh
