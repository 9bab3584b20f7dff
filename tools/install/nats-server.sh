#!/usr/bin/env bash
# Installs the current nats-server (Debian unstable's package) into a folder of the project, without
# touching the machine's apt configuration: a private sources list, state and cache under the folder,
# the package fetched with `apt-get download` and unpacked with `dpkg-deb -x`.
#
#   tools/install/nats-server.sh .cache/nats-server      # prints the binary's path
#
# The package's version is whatever unstable holds (2.15.x at the end of 2026); the floor the project
# supports is Debian stable's 2.9.10 (`apt-get install nats-server`), tested too (make test-compat).
set -euo pipefail
dest=$(mkdir -p "$1" && cd "$1" && pwd)
bin="$dest/usr/sbin/nats-server"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian unstable main" \
  > "$apt_dir/etc/sources.list"
opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::State::status=/dev/null" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)
echo "fetching the current nats-server from Debian unstable into $dest" >&2
apt-get "${opts[@]}" -qq update >&2
(cd "$apt_dir/cache" && apt-get "${opts[@]}" -qq download nats-server >&2)
deb=$(ls "$apt_dir"/cache/nats-server_*.deb | head -n 1)
dpkg-deb -x "$deb" "$dest"
rm -rf "$apt_dir"
"$bin" --version >&2
echo "$bin"
