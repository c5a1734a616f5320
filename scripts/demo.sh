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
