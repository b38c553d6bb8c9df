#!/usr/bin/env bash
# `make compose-test`: run both Compose stacks for real and check them end to end.
#
#   1. Docker: installs docker.io, docker-compose and debootstrap if missing (Debian, as root)
#      and starts dockerd if none answers (stopped again at the end if started here);
#   2. the base image: RETAILPIPE_BASE_IMAGE (default retailpipe-base:bookworm, made locally
#      with debootstrap when missing; any other name is pulled);
#   3. the stacks' images, built with BuildKit from the Dockerfile (cached between runs), the
#      jars seeded from the host's retailpipe cache, the host's CA bundle as a build secret;
#   4. tests/compose: each stack up, driven, compared with an oracle, and `down -v`.
#
# Nothing is left running: the tests take their stacks down, and so does this script on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
BASE_IMAGE=${RETAILPIPE_BASE_IMAGE:-retailpipe-base:bookworm}
CA_BUNDLE=${RETAILPIPE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/retailpipe-dockerd.log}
STACKS=(batch stream)
started_dockerd=

compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

cleanup() {
  local status=$?
  if docker info >/dev/null 2>&1; then
    for stack in "${STACKS[@]}"; do
      compose -p "retailpipe-test-$stack" -f "compose/$stack.yml" down -v --remove-orphans \
        >/dev/null 2>&1 || true
    done
  fi
  if [ -n "$started_dockerd" ]; then
    echo "stopping the dockerd started here (pid $started_dockerd)"
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
  fi
  exit "$status"
}
trap cleanup EXIT

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 \
  || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: $DOCKERD_LOG)"
  setsid dockerd </dev/null >>"$DOCKERD_LOG" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$DOCKERD_LOG" >&2; exit 1; }
fi

SECONDS=0
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if [ "$BASE_IMAGE" = retailpipe-base:bookworm ]; then
    scripts/docker-base-image.sh "$BASE_IMAGE"
  else
    docker pull "$BASE_IMAGE"
  fi
fi
build_args=(--base-image "$BASE_IMAGE")
[ -s "$CA_BUNDLE" ] && build_args+=(--ca-bundle "$CA_BUNDLE")
"$BIN/python" scripts/compose_build.py "${build_args[@]}"
echo "base image and images ready in ${SECONDS} s"

RETAILPIPE_COMPOSE_TEST=1 "$BIN/pytest" -m compose tests/compose \
  -p no:cacheprovider --timeout=3600 --durations=0 -v "$@"
