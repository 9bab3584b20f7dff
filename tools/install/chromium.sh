#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed (the browser the ops console's journeys run in, driven by
# playwright-core) and prints its path. Chromium needs the machine's shared libraries, so unlike
# nats-server it is not unpacked into .cache/: it is installed with apt-get, once, when missing.
#
#   tools/install/chromium.sh        # prints /usr/bin/chromium
#
# THREADLINE_CHROMIUM names another binary (a Chromium or Chrome of the machine's) and skips the install.
set -euo pipefail
if [ -n "${THREADLINE_CHROMIUM:-}" ]; then echo "$THREADLINE_CHROMIUM"; exit 0; fi
bin=/usr/bin/chromium
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is missing and installing it needs root: apt-get install chromium (or set THREADLINE_CHROMIUM)" >&2
  exit 1
fi
echo "installing Debian's chromium (apt-get)" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
"$bin" --version >&2
echo "$bin"
