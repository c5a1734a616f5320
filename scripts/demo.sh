#!/usr/bin/env bash
# `make demo`: the main job on the embedded default fleet.
#   validate the spec -> bring up the lab -> roll out a good release ->
#   roll out a bad one that the canary catches -> automatic rollback with
#   proof -> `rollout why` -> the lab still serves the good release -> a
#   cache-busting change only the video gates catch (and its HTML report) ->
#   HTTPS certificates: status, a rotation as a rollout -> drains
#   (a host, a region) -> history -> lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/fleetctl
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
started=$(date +%s)

# The demo keeps its own journal so it never mixes with your rollouts.
export FLEETCTL_STATE=.fleetctl/demo/state.db
rm -rf .fleetctl/demo
mkdir -p .fleetctl/demo
POLICY=rollout-policies/lab.yml

step "fleetctl validate  (every stack config, every problem at once)"
$F validate
step "fleetctl stacks list"
$F stacks list

step "fleetctl capacity --env prod --demand examples/demand-prod.yaml --growth 30%  (N+1 plan vs spec)"
$F capacity --env prod --demand examples/demand-prod.yaml --growth 30%

step "fleetctl preview --env staging  (the Pulumi program under the mock runtime: no cloud, no CLI)"
$F preview --env staging

step "fleetctl cost --env prod --by role  (monthly estimate from the price table shipped with fleetctl)"
$F cost --env prod --by role

step "fleetctl policy check --env prod  (the policy pack in policies/, as every preview runs it)"
$F policy check --env prod

step "fleetctl inventory --env staging  (the dynamic inventory from the spec)"
$F inventory --env staging --format table

# The default lab block is 127.0.10; if something already listens there, use a free one.
if [ -z "${FLEETCTL_LAB_SUBNET:-}" ]; then
  FLEETCTL_LAB_SUBNET=$(.venv/bin/python - <<'PY'
import socket
for n in range(10, 250):
    with socket.socket() as s:
        s.settimeout(0.2)
        if s.connect_ex((f"127.0.{n}.11", 2222)) != 0:
            print(f"127.0.{n}")
            break
PY
)
  export FLEETCTL_LAB_SUBNET
fi

cleanup() { step "fleetctl lab down"; $F lab down || true; }
trap cleanup EXIT

step "fleetctl lab up  (sshd + nginx per host on loopback, configured by Ansible over SSH)"
$F lab up

step "fleetctl rollout plan edge.yml --env lab  (canary in the lowest-traffic region, then waves)"
$F rollout plan edge.yml --env lab --policy "$POLICY"

step "fleetctl rollout start edge.yml --env lab  (a good release; gates probe the edges over HTTPS, verified against the lab CA)"
$F rollout start edge.yml --env lab --policy "$POLICY" --yes
good=$($F rollout list --env lab --format json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0]["release_id"])')

step "every edge now serves X-Fleet-Release: $good"
$F lab status

step "a bad change: +80 ms on every edge response (well under the 1 s p95 threshold)"
set +e
$F rollout start edge.yml --env lab --policy "$POLICY" --yes -x edge_response_delay_ms=80
rc=$?
set -e
if [ "$rc" -ne 1 ]; then echo "demo: expected the bad rollout to fail and roll back (exit 1), got $rc" >&2; exit 1; fi

step "fleetctl rollout why  (every decision with its evidence)"
$F rollout why

step "fleetctl rollout history --env lab"
$F rollout history --env lab

step "the lab still serves the good release $good"
$F lab status

step "a bad change only the video gates see: a cache key with a per-request value (every request misses)"
set +e
$F rollout start edge.yml --env lab --policy rollout-policies/lab-video.yml --yes \
  -x 'edge_cache_key=$scheme$proxy_host$request_uri$request_id'
rc=$?
set -e
if [ "$rc" -ne 1 ]; then echo "demo: expected the cache-busting rollout to roll back (exit 1), got $rc" >&2; exit 1; fi
step "fleetctl rollout why  (HTTP and latency pass; cache fails: hit ratios and the projected origin load)"
$F rollout why
bust=$($F rollout list --env lab --format json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
$F rollout report "$bust" --out .fleetctl/demo/report.html

step "HTTPS edges: fleetctl certs status  (each edge's certificate by a verified TLS handshake)"
$F certs status --env lab
step "fleetctl certs rotate  (a new certificate as a rollout: canary, waves, the tls_cert gate)"
$F certs issue --cert .fleetctl/demo/edges.crt --key .fleetctl/demo/edges.key --days 60
$F certs rotate --env lab --cert .fleetctl/demo/edges.crt --key .fleetctl/demo/edges.key \
  --policy "$POLICY" --yes
$F certs status --env lab

step "emergency: fleetctl hosts drain  (/healthz answers 503, video still served, rollouts skip it)"
$F hosts drain --env lab --limit lab-edge-big-02 --reason "demo: NIC errors"
$F hosts list --env lab
$F rollout plan edge.yml --env lab --policy "$POLICY" --format json >/dev/null
$F hosts undrain --env lab --limit lab-edge-big-02

step "emergency: fleetctl drain lab-big  (refused: the rest cannot carry a 3 Gbit/s peak)"
set +e
$F drain lab-big --env lab --reason "demo: packet loss" --peak-gbps 3 --yes
rc=$?
set -e
if [ "$rc" -ne 1 ]; then echo "demo: expected the drain to be refused (exit 1), got $rc" >&2; exit 1; fi

step "fleetctl drain lab-small  (its viewers move to lab-mid and lab-big through the traffic router)"
$F drain lab-small --env lab --reason "demo: packet loss" --yes

step "fleetctl status --env lab  (health, release mix, weights and drains; metrics serve exports the same)"
$F status --env lab
$F metrics dump --env lab | grep -E '^fleet_region_(traffic_weight|drained)'
$F undrain lab-small --env lab --yes

step "fleetctl history --env lab  (freezes, drains and rollouts on one timeline)"
$F history --env lab

step "done in $(( $(date +%s) - started ))s"
