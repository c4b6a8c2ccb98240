#!/bin/sh
# Prints an Envoy config with each ${NAME} or ${NAME:-default} placeholder filled from the environment.
#
# Envoy expands no variables in socket addresses, so docker-compose (inside the envoy container),
# `npm run stack` and the tests all render envoy/envoy.yaml through this one script rather than
# keeping hand-edited copies. A placeholder that is neither set nor defaulted is an error (exit 1):
# a typo fails here, naming the variable, instead of later as a vaguer Envoy parse error.
# POSIX sh and awk only, because the official Envoy image has nothing more.
set -eu
if [ "$#" -ne 1 ]; then
  echo "usage: render-config.sh TEMPLATE > CONFIG" >&2
  exit 2
fi
exec awk '
{
  rest = $0
  line = ""
  while (match(rest, /\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}/)) {
    inner = substr(rest, RSTART + 2, RLENGTH - 3)
    cut = index(inner, ":-")
    name = cut > 0 ? substr(inner, 1, cut - 1) : inner
    if ((name in ENVIRON) && ENVIRON[name] != "") {
      value = ENVIRON[name]
    } else if (cut > 0) {
      value = substr(inner, cut + 2)
    } else {
      printf "render-config: %s is not set (line %d)\n", name, NR > "/dev/stderr"
      failed = 1
      value = ""
    }
    line = line substr(rest, 1, RSTART - 1) value
    rest = substr(rest, RSTART + RLENGTH)
  }
  print line rest
}
END { exit failed ? 1 : 0 }
' "$1"
