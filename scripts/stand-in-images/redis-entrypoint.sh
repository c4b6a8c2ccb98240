#!/bin/sh
# The official Redis image builds redis-server with protected mode off (it listens on the container
# network, not on a host) and runs it as the redis user; Debian's binary needs both said here.
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
  if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=redis --regid=redis --init-groups "$@"; fi
fi
exec "$@"
