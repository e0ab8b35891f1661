#!/usr/bin/env bash
# Installs what the cluster tests run besides the sandbox's parts: Debian's CNI plugins and
# iptables (the harness routes the API and DNS Services as kube-proxy would), etcd 3.5
# (Debian sid, through scripts/fetch-runtimes.sh), and Kubernetes and CoreDNS built from their Go modules
# (scripts/build-kubernetes.sh; PREPULL_KUBERNETES_BINARIES names release binaries instead).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-sandbox-deps.sh
bash scripts/install-debian-packages.sh /usr/lib/cni/bridge=containernetworking-plugins iptables=iptables
bash scripts/fetch-runtimes.sh etcd
bash scripts/build-kubernetes.sh
bash scripts/build-helm.sh
