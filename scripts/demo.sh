#!/usr/bin/env bash
# `make demo`: the main job on the embedded default fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/fleetctl
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "fleetctl validate  (every stack config, every problem at once)"
$F validate
step "fleetctl stacks list"
$F stacks list

step "fleetctl inventory --env staging  (the dynamic inventory from the spec)"
$F inventory --env staging
step "fleetctl lab up  (real sshd + nginx per loopback address, site.yml over SSH)"
trap '$F lab down >/dev/null 2>&1 || true' EXIT
$F lab up --hosts 6
step "fleetctl lab status"
$F lab status
step "fleetctl apply edge --env lab --check --diff -x fleet_release=demo-1  (what would change)"
$F apply edge --env lab --check --diff -x fleet_release=demo-1 --limit lab_small || true
step "fleetctl lab down"
$F lab down
trap - EXIT
