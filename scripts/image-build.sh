#!/usr/bin/env bash
# Build the API's image with podman on machines without a Docker engine or a registry
# (../shared/CONTAINERS.md): install podman, runc and debootstrap when missing, make the local
# Debian + Python base when missing (kept in podman's storage, so later builds reuse it), then
# build the Dockerfile on it. Where a registry is reachable, BASE_IMAGE=python:3.11-slim-bookworm
# skips the local base.
#
#   IMAGE       tag to build                 (default localhost/taskapi:latest)
#   BASE_IMAGE  the Dockerfile's base image  (default the local localhost/python:3.11-bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/taskapi:latest}
LOCAL_BASE=localhost/python:3.11-bookworm
BASE_IMAGE=${BASE_IMAGE:-$LOCAL_BASE}
DEBIAN_IMAGE=localhost/debian-base:bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
# This machine reaches the package registries through its own certificate authority.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}

step() { printf '== %s\n' "$*"; }

ensure_tools() {
  command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null \
    && return
  if [ "$(id -u)" != 0 ]; then
    echo "FAIL: podman, runc and debootstrap are needed: apt-get install podman runc debootstrap" >&2
    exit 1
  fi
  step "installing podman runc debootstrap"
  timeout 600 apt-get update -q
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q podman runc debootstrap
}

ensure_debian_image() {
  podman image exists "$DEBIAN_IMAGE" && return
  step "making $DEBIAN_IMAGE with debootstrap (once; podman keeps it)"
  local work
  work=$(mktemp -d /var/tmp/taskapi-debootstrap.XXXXXX)
  # shellcheck disable=SC2064 # expand now: $work is local to this function
  trap "rm -rf '$work'" EXIT
  if ! timeout 900 debootstrap --variant=minbase bookworm "$work/rootfs" "$DEBIAN_MIRROR" \
    >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    echo "FAIL: debootstrap" >&2
    exit 1
  fi
  # The package lists and caches are stale the moment the image exists.
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*
  tar -C "$work/rootfs" -c . | podman import --quiet - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$work"
  trap - EXIT
}

build_local_base() {
  ensure_debian_image
  # Layer-cached: a second run takes a second, and an edit of the Containerfile rebuilds.
  step "base image $LOCAL_BASE"
  timeout 900 podman build --quiet --network host --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" \
    -t "$LOCAL_BASE" -f scripts/python-base.Containerfile scripts >/dev/null
}

ensure_tools
start=$(date +%s)
[ "$BASE_IMAGE" = "$LOCAL_BASE" ] && build_local_base

step "building $IMAGE on $BASE_IMAGE"
# docker format: the OCI format has no HEALTHCHECK and podman would drop it.
build_args=(--format docker --network host --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE")
[ -f "$CA_BUNDLE" ] && build_args+=(--volume "$CA_BUNDLE:$CA_BUNDLE:ro")
timeout 1800 podman build "${build_args[@]}" .
echo "built $IMAGE in $(($(date +%s) - start))s"
