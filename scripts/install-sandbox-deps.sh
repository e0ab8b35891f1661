#!/usr/bin/env bash
# Installs the real parts the sandbox runs (containerd, runc, docker-registry, htpasswd, openssl,
# skopeo, and Prometheus with promtool for test/monitoring) from Debian's packages when any is
# missing, then the containerd 2.x and 1.7 of the runtime matrix (scripts/fetch-runtimes.sh).
# Needs root, like containerd itself.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-debian-packages.sh \
  containerd=containerd ctr=containerd runc=runc docker-registry=docker-registry \
  htpasswd=apache2-utils openssl=openssl skopeo=skopeo prometheus=prometheus promtool=prometheus
exec bash scripts/fetch-runtimes.sh
