#!/usr/bin/env bash
# The operating-system packages fleetctl's lab and tests need, installed with
# apt when missing. `make demo`, `make test` and `.ci/run` all call this one
# script, so a fresh Debian machine needs nothing else.
#
# As root it runs apt-get; otherwise `sudo -n apt-get` when sudo works without
# a password; otherwise it stops at once and prints the command to run.
# Nothing happens (and nothing is asked) when everything is already installed.
set -euo pipefail

# The one list. One line per apt package:
#   <apt package>  <a program it installs (how we tell it is there)>  [<service its install starts>]
# The lab runs its own daemons, so a service the package starts is stopped
# right after the install (Debian starts nginx on :80 and sshd on :22).
PACKAGES='
nginx-light      nginx   nginx
openssh-server   sshd    ssh
openssh-client   ssh
git              git
prometheus       promtool prometheus
cmark-gfm        cmark-gfm
mtail            mtail    mtail
chromium         chromium
'

# sbin directories are not on a normal user's PATH; look there too.
SEARCH_DIRS=${SYSTEM_DEPS_SEARCH_DIRS-/usr/sbin /sbin}

# An executable regular file on PATH or in SEARCH_DIRS (`command -v` also
# answers for a non-executable file when nothing better is found).
have() {
  local d dirs
  IFS=: read -ra dirs <<<"$PATH"
  for d in "${dirs[@]}" $SEARCH_DIRS; do
    [ -f "$d/$1" ] && [ -x "$d/$1" ] && return 0
  done
  return 1
}

missing=()
services=()
while read -r pkg prog service; do
  [ -n "$pkg" ] || continue
  if ! have "$prog"; then
    missing+=("$pkg")
    [ -z "${service:-}" ] || services+=("$service")
  fi
done <<<"$PACKAGES"

[ ${#missing[@]} -eq 0 ] && exit 0

install_cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing system packages: ${missing[*]} (Debian names), and there is no apt-get here" >&2
  echo "hint: install the equivalent packages with your package manager, then run this again" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "error: missing system packages: ${missing[*]} (needs root to install)" >&2
  echo "hint: run: sudo apt-get update && sudo $install_cmd" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Stop the system daemons the packages just started; fleetctl never uses them.
for service in ${services[@]+"${services[@]}"}; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${as_root[@]}" systemctl stop "$service" >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    "${as_root[@]}" service "$service" stop >/dev/null 2>&1 || true
  fi
done
