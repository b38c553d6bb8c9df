#!/usr/bin/env bash
# Build a minimal Debian bookworm image locally (debootstrap + docker import), for machines
# that cannot pull from an image registry. The mirror is the host's own Debian mirror, read
# from its apt sources; nothing here names a mirror.
#
#   scripts/docker-base-image.sh [IMAGE]        # default retailpipe-base:bookworm
#
# Does nothing when IMAGE exists already (delete it with `docker rmi IMAGE` to rebuild).
set -euo pipefail

IMAGE=${1:-retailpipe-base:bookworm}
SUITE=bookworm
DOCKER=${DOCKER:-docker}

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE exists"
  exit 0
fi

# The first http(s) URI of a source that serves the bookworm suite (not -security).
sources=()
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$file" ] && sources+=("$file")
done
mirror=$(
  awk '
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "'"$SUITE"'") print uri }
    /^deb / && $3 == "'"$SUITE"'" { print $2 }
  ' "${sources[@]}" /dev/null | grep -E '^https?://' | head -n 1 || true
)
mirror=${MIRROR:-$mirror}
if [ -z "$mirror" ]; then
  echo "error: no Debian $SUITE mirror found in /etc/apt/sources.list*" >&2
  echo "fix: pass one in the environment: MIRROR=http://... $0" >&2
  exit 2
fi
command -v debootstrap >/dev/null || {
  echo "error: debootstrap is not installed; fix: apt-get install -y debootstrap" >&2
  exit 2
}

rootfs=$(mktemp -d /tmp/retailpipe-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap $SUITE (minbase) into $rootfs"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -n 20 "$rootfs.log" >&2
  exit 1
}
rm -f "$rootfs.log"
# The image uses the host's Debian sources (updates and security included) when they are in
# deb822 form; otherwise debootstrap's one-line sources.list stays.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
  : >"$rootfs/etc/apt/sources.list"
fi
# Keep images small, as the official Debian images do.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  - "$IMAGE" >/dev/null
echo "built base image $IMAGE"
