#!/usr/bin/env bash
# Installs the real parts the sandbox runs (containerd, runc, docker-registry, htpasswd, openssl,
# skopeo, and Prometheus with promtool for test/monitoring) from Debian's packages when any is
# missing, then the containerd 2.x and 1.7 of the runtime matrix (scripts/fetch-runtimes.sh).
# Needs root, like containerd itself.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A package_of=(
  [containerd]=containerd
  [ctr]=containerd
  [runc]=runc
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [openssl]=openssl
  [skopeo]=skopeo
  [prometheus]=prometheus
  [promtool]=prometheus
)

missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exec bash scripts/fetch-runtimes.sh
fi

mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${packages[*]} — install them (apt-get install ${packages[*]}) or run as root" >&2
  exit 1
fi
echo "installing ${packages[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# Debian's prometheus package enables and starts a system service on :9090 where systemd runs;
# the tests start their own on free ports, so stop the one this install started.
if [[ " ${packages[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
exec bash scripts/fetch-runtimes.sh
