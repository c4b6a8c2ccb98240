# shellcheck shell=bash
# apt_install PACKAGE...: installs the Debian packages named (none: nothing) with apt-get as root;
# anywhere else it stops the calling script, naming what to install. Sourced by setup.sh and
# container-images.sh, which define log().
apt_install() {
  (($#)) || return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing $* and cannot apt-get install (need root on Debian); install them and rerun"
    exit 1
  fi
  log "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
