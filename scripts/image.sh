#!/usr/bin/env bash
# Builds the Sluice image (the Dockerfile's last stage) as sluice:<package.json version>, with
# podman where it is installed, else docker; with --save PATH also writes it there as an OCI archive
# (for `podman load`, `skopeo copy oci-archive:PATH docker://REGISTRY/...` or a kind/k3s import).
#
#   npm run image
#   npm run image -- --save sluice.oci.tar
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(node -p 'require(process.argv[1]).version' "$root/package.json")"
tag="sluice:$version"
save=""
while (($#)); do
  case "$1" in
    --save) save="${2:?--save needs a path}"; shift 2 ;;
    *) echo "usage: image.sh [--save PATH]" >&2; exit 2 ;;
  esac
done

if command -v podman >/dev/null 2>&1; then
  # Docker's image format, not OCI's: only it keeps the Dockerfile's HEALTHCHECK.
  podman build --format docker --build-arg "VERSION=$version" --target sluice -t "$tag" "$root"
  if [ -n "$save" ]; then
    rm -f "$save"
    podman save --format oci-archive -o "$save" "localhost/$tag"
  fi
else
  docker build --build-arg "VERSION=$version" --target sluice -t "$tag" "$root"
  if [ -n "$save" ]; then
    # docker save writes a tarball that holds an OCI image layout (Docker 25 and later).
    docker save -o "$save" "$tag"
  fi
fi
echo "built $tag${save:+, saved to $save}" >&2
