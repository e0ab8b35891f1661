#!/usr/bin/env bash
# Provides the containerd runtimes of the test matrix beside the system's own, without touching
# the machine's apt sources or its installed containerd: the newest containerd 2.x (Debian sid)
# and 1.7 (Debian trixie) are downloaded through a private apt list and unpacked, once, into
# .cache/runtimes/<name>/. The system's containerd (Debian bookworm, 1.6) is the matrix's third.
# The cluster tests' etcd (3.5, Debian sid; bookworm's 3.4 is older than Kubernetes supports)
# comes the same way.
#
#   scripts/fetch-runtimes.sh [NAME...]   NAME: containerd-2 | containerd-1.7 | etcd
#                                         (default: both containerd)
#
# Fails, naming the runtime and the reason, when one cannot be fetched or does not run here.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=.cache/runtimes
declare -A suite_of=([containerd-2]=sid [containerd-1.7]=trixie [etcd]=sid)
declare -A series_of=([containerd-2]='^2\.' [containerd-1.7]='^1\.7\.' [etcd]='^3\.5\.')
declare -A package_of=([containerd-2]=containerd [containerd-1.7]=containerd [etcd]=etcd-server)
declare -A binary_of=([containerd-2]=containerd [containerd-1.7]=containerd [etcd]=etcd)

fail() {
  echo "fetch-runtimes: $1" >&2
  exit 1
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(containerd-2 containerd-1.7)
missing=()
for name in "${wanted[@]}"; do
  [ -n "${suite_of[$name]:-}" ] || fail "unknown runtime '$name' (known: ${!suite_of[*]})"
  [ -x "$cache/$name/usr/bin/${binary_of[$name]}" ] || missing+=("$name")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null || fail "${missing[*]}: apt-get is not available to download Debian's packages"
system_sources=/etc/apt/sources.list.d/debian.sources
[ -r "$system_sources" ] || fail "${missing[*]}: $system_sources is missing, so the Debian archive's address is unknown"
# The first stanza of the machine's own entry names the main archive and its signing key.
uris=$(awk '/^URIs:/ { print $2; exit }' "$system_sources")
signed_by=$(awk '/^Signed-By:/ { print $2; exit }' "$system_sources")
[ -n "$uris" ] && [ -n "$signed_by" ] || fail "${missing[*]}: no URIs/Signed-By in $system_sources"

apt_dir=$(realpath -m "$cache/apt")
mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
suites=$(for name in "${missing[@]}"; do echo "${suite_of[$name]}"; done | sort -u | tr '\n' ' ')
cat >"$apt_dir/sources/runtimes.sources" <<SOURCES
Types: deb
URIs: $uris
Suites: $suites
Components: main
Signed-By: $signed_by
SOURCES
apt_options=(
  -o Dir::Etc::sourcelist=/dev/null
  -o "Dir::Etc::sourceparts=$apt_dir/sources"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o APT::Sandbox::User=root
)
echo "fetch-runtimes: reading Debian's package lists for suites $suites" >&2
apt-get "${apt_options[@]}" -qq update >/dev/null 2>"$apt_dir/update.log" ||
  fail "${missing[*]}: apt-get update of suites $suites failed: $(tail -n 3 "$apt_dir/update.log" | tr '\n' ' ')"

for name in "${missing[@]}"; do
  suite=${suite_of[$name]}
  package=${package_of[$name]}
  binary=${binary_of[$name]}
  # madison lists the newest first within a suite; take the newest of the wanted series.
  version=$(apt-cache "${apt_options[@]}" madison "$package" |
    awk -F' *\\| *' -v suite=" $suite/" -v series="${series_of[$name]}" 'index($3, suite) && $2 ~ series { print $2; exit }')
  [ -n "$version" ] || fail "$name: Debian suite $suite offers no $package of that series"
  echo "fetch-runtimes: $name is $package $version from Debian $suite" >&2
  (cd "$apt_dir/debs" && apt-get "${apt_options[@]}" -qq download "$package=$version" >/dev/null 2>"$apt_dir/download.log") ||
    fail "$name: download of $package=$version failed: $(tail -n 3 "$apt_dir/download.log" | tr '\n' ' ')"
  deb=$(ls "$apt_dir"/debs/"${package}"_"${version/#*:/}"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || fail "$name: the downloaded package for $package=$version is missing"
  staging=$(mktemp -d "$cache/.unpack-XXXXXX")
  dpkg -x "$deb" "$staging"
  "$staging/usr/bin/$binary" --version >/dev/null 2>&1 ||
    fail "$name: the unpacked $package $version does not run on this machine: $("$staging/usr/bin/$binary" --version 2>&1 | head -n 1)"
  echo "$version" >"$staging/DEBIAN_VERSION"
  rm -rf "${cache:?}/$name"
  mv "$staging" "$cache/$name"
  rm -f "$deb"
done
