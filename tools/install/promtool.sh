#!/usr/bin/env bash
# Installs promtool (Debian stable's prometheus package) into a folder of the project, without touching
# the machine's apt configuration or installing the Prometheus service: a private sources list, state
# and cache under the folder, the package fetched with `apt-get download`, only promtool kept.
#
#   tools/install/promtool.sh .cache/promtool      # prints the binary's path
#
# make test uses it to check and unit-test the alert rules (deploy/prometheus/, test/deploy/prometheus.test.ts).
set -euo pipefail
dest=$(mkdir -p "$1" && cd "$1" && pwd)
bin="$dest/promtool"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
  > "$apt_dir/etc/sources.list"
opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::State::status=/dev/null" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)
echo "fetching promtool (Debian's prometheus package) into $dest" >&2
apt-get "${opts[@]}" -qq update >&2
(cd "$apt_dir/cache" && apt-get "${opts[@]}" -qq download prometheus >&2)
deb=$(ls "$apt_dir"/cache/prometheus_*.deb | head -n 1)
dpkg-deb -x "$deb" "$apt_dir/unpacked"
cp "$apt_dir/unpacked/usr/bin/promtool" "$bin"
rm -rf "$apt_dir"
"$bin" --version >&2
echo "$bin"
