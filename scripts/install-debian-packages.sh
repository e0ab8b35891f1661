#!/usr/bin/env bash
# Installs from Debian's packages each PACKAGE whose COMMAND is missing:
#
#   scripts/install-debian-packages.sh COMMAND=PACKAGE...
#
# A COMMAND that starts with / is a file to look for instead of a command on PATH. Needs root
# when anything is missing, and says what to install when it is not root.
set -euo pipefail

missing=()
for pair in "$@"; do
  command=${pair%%=*}
  package=${pair#*=}
  if [[ $command == /* ]]; then
    [ -e "$command" ] || missing+=("$package")
  else
    command -v "$command" >/dev/null 2>&1 || missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
