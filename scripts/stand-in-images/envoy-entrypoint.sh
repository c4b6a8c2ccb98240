#!/bin/sh
# What the official Envoy image's entrypoint does, with util-linux's setpriv for su-exec: a first
# argument that is a flag runs envoy; a root start drops to the envoy user.
set -e
if [ "${1#-}" != "$1" ]; then set -- envoy "$@"; fi
if [ "$(id -u)" = 0 ] && [ "${ENVOY_UID:-101}" != 0 ]; then
  exec setpriv --reuid=envoy --regid=envoy --init-groups "$@"
fi
exec "$@"
