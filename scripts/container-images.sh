#!/usr/bin/env bash
# Makes `docker compose up` runnable here with podman, where no Docker engine runs and no container
# registry is reachable: installs podman and podman-compose, configures podman only where this
# machine needs it, and builds local stand-ins for the images the Dockerfile and docker-compose.yml
# name, tagged with those very names (podman uses a local image before pulling), from Debian's
# packages and the binaries in .tools/ and node_modules/. The Dockerfile and compose file stay the
# ones Docker users run. Idempotent and cached: each image carries a hash of its inputs, and a second
# run only compares hashes. Run by scripts/setup.sh; usable by hand (root, Debian).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
here="$root/scripts/stand-in-images"
PODMAN_COMPOSE_VERSION="1.6.0"
BASE_IMAGE="localhost/debian:bookworm"
# The names docker-compose.yml and the Dockerfile use, fully qualified as podman stores them
# (test/static/compose.test.ts checks they agree).
NODE_IMAGE="docker.io/library/node:24-bookworm-slim"
ENVOY_IMAGE="docker.io/envoyproxy/envoy:v1.40.0"
REDIS_IMAGE="docker.io/library/redis:7.4-alpine"
PROMETHEUS_IMAGE="docker.io/prom/prometheus:v3.5.0"
# Second tags that record the inputs each stand-in was built from.
MARKER_REPOSITORY="localhost/sluice-stand-in-inputs"

log() { printf 'container-images: %s\n' "$*" >&2; }
# shellcheck source=scripts/apt-install.sh
source "$root/scripts/apt-install.sh"

# netavark and aardvark-dns, not CNI: compose services find each other by name through aardvark.
packages=()
for package in podman buildah runc uidmap slirp4netns fuse-overlayfs debootstrap netavark aardvark-dns; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || packages+=("$package")
done
apt_install "${packages[@]}"

# Only what this machine needs, in a drop-in that leaves any containers.conf of the admin alone.
conf=/etc/containers/containers.conf.d/50-sluice.conf
settings=()
# Podman asks for nofile 1048576 by default; without CAP_SYS_RESOURCE a container start fails
# ("setrlimit RLIMIT_NOFILE: Operation not permitted") above the hard limit this shell has.
# nproc is capped too: here runc was refused even at this shell's own hard limit (96369), but not
# at 32768.
nofile="$(ulimit -Hn)"
if [ "$nofile" != unlimited ] && [ "$nofile" -lt 1048576 ]; then
  settings+=("[containers]" "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=32768:32768\"]")
fi
settings+=("[engine]")
# crun 1.8 refuses a hybrid cgroup v1/v2 layout; runc runs on it.
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || settings+=('runtime = "runc"')
# No systemd as PID 1: no systemd cgroup manager, no journald for events.
[ -d /run/systemd/system ] || settings+=('cgroup_manager = "cgroupfs"' 'events_logger = "file"')
settings+=("[network]" 'network_backend = "netavark"')
wanted="$(printf '%s\n' "${settings[@]}")"
if [ "$(cat "$conf" 2>/dev/null)" != "$wanted" ]; then
  log "writing $conf"
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$wanted" >"$conf"
fi

if ! "$tools/venv/bin/podman-compose" --version 2>/dev/null | grep -q "podman-compose version $PODMAN_COMPOSE_VERSION"; then
  log "installing podman-compose==$PODMAN_COMPOSE_VERSION into $tools/venv"
  [ -x "$tools/venv/bin/pip" ] || python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "podman-compose==$PODMAN_COMPOSE_VERSION"
fi

if ! podman image exists "$BASE_IMAGE"; then
  log "debootstrap bookworm (minbase) into $BASE_IMAGE"
  rootfs="$(mktemp -d /var/tmp/sluice-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi
base_id="$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE")"

# build IMAGE CONTAINERFILE CONTEXT [BUILD ARGS...]: builds when the hash of the base image, the
# Containerfile and the context differs from the one in the image's second tag (a tag, not a label,
# so images built FROM the stand-in do not inherit it).
build() {
  local image="$1" containerfile="$2" context="$3"
  shift 3
  local inputs marker
  # The context by name, size and modification time (copied with -p), not content: hashing the
  # Node and Envoy binaries would take seconds on every run.
  inputs="$( (echo "$base_id $*" && cat "$containerfile" && find "$context" -type f -printf '%P %s %T@\n' | sort) |
    sha256sum | cut -c1-16)"
  marker="$MARKER_REPOSITORY/$(basename "$containerfile" .Containerfile)"
  if [ "$(podman image inspect --format '{{.Id}}' "$marker:$inputs" 2>/dev/null)" = \
    "$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null)" ] && podman image exists "$image"; then
    return
  fi
  log "building $image"
  podman build --quiet --pull=never --layers=false -f "$containerfile" -t "$image" -t "$marker:$inputs" "$@" "$context" >/dev/null
  # Tags of earlier inputs; the images themselves stay while the stack's images build on them.
  podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$marker:" | grep -vx "$marker:$inputs" |
    xargs --no-run-if-empty podman untag >/dev/null 2>&1 || true
}

context="$(mktemp -d /var/tmp/sluice-stand-in.XXXXXX)"
trap 'rm -rf "$context"' EXIT

mkdir -p "$context/node/extra-ca"
cp -p "$root/node_modules/node/bin/node" "$context/node/node"
# npm is the one this machine runs `npm ci` with; the `node` package carries only the binary.
cp -rp "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$context/node/npm"
ca_args=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then
  cp -p "$NODE_EXTRA_CA_CERTS" "$context/node/extra-ca/ca.crt"
  ca_args=(--build-arg EXTRA_CA_FILE=/etc/ssl/extra-ca/ca.crt)
fi
build "$NODE_IMAGE" "$here/node.Containerfile" "$context/node" "${ca_args[@]}"

mkdir -p "$context/envoy"
cp -p "$(find "$tools/venv" -path '*/envoy/_bin/envoy' -type f | head -n 1)" "$context/envoy/envoy"
cp -p "$here/envoy-entrypoint.sh" "$context/envoy/"
build "$ENVOY_IMAGE" "$here/envoy.Containerfile" "$context/envoy"

mkdir -p "$context/redis"
cp -p "$here/redis-entrypoint.sh" "$context/redis/"
build "$REDIS_IMAGE" "$here/redis.Containerfile" "$context/redis"

mkdir -p "$context/prometheus"
build "$PROMETHEUS_IMAGE" "$here/prometheus.Containerfile" "$context/prometheus"
