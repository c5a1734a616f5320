#!/usr/bin/env bash
# `make demo-temporal`: a rollout on Temporal across the lab's regions.
#   lab up --temporal (dev server + a coordinator worker + one worker per region)
#   -> rollout start --engine temporal, regions in parallel -> kill -9 a regional
#   worker in the middle of its batch -> the batch is retried by the restarted
#   worker after the heartbeat timeout -> the rollout completes -> why -> lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
F=.venv/bin/fleetctl
PY=.venv/bin/python
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
started=$(date +%s)

export FLEETCTL_STATE=.fleetctl/demo-temporal/state.db
rm -rf .fleetctl/demo-temporal
mkdir -p .fleetctl/demo-temporal
POLICY=rollout-policies/lab.yml

if [ -z "${FLEETCTL_LAB_SUBNET:-}" ]; then
  FLEETCTL_LAB_SUBNET=$($PY - <<'PY'
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

cleanup() {
  # a rollout still waiting on the server (the demo stopped early) goes first
  if [ -n "${starter:-}" ]; then kill "$starter" 2>/dev/null || true; fi
  step "fleetctl lab down  (stops the Temporal server and the workers too)"; $F lab down || true
}
trap cleanup EXIT

step "fleetctl lab up --temporal  (the lab + a Temporal dev server + a worker per region)"
$F lab up --temporal

step "fleetctl rollout start edge.yml --env lab --engine temporal --max-parallel-regions 3"
$F rollout start edge.yml --env lab --engine temporal --max-parallel-regions 3 \
  --policy "$POLICY" --yes -x demo_note=temporal > .fleetctl/demo-temporal/start.log 2>&1 &
starter=$!

step "kill -9 a regional worker while its Ansible batch runs"
if ! $PY - <<'PY'
import os, signal, time
from pathlib import Path
from fleetctl.adapters import procs
from fleetctl.adapters.state.sqlite import SqliteStore
from fleetctl.adapters.supervisor import Supervisor
from fleetctl.services import lab
from fleetctl.services.rollout_temporal.activities import BATCH_TAG

sv = Supervisor(lab.resolve_dir(None, Path.cwd()))
deadline = time.time() + 180
while time.time() < deadline:
    store = SqliteStore(os.environ["FLEETCTL_STATE"])
    docs = store.list("rollout")
    rid = docs[0]["id"] if docs else None
    waves = [e for e in store.events(rid) if e["type"] == "step_started" and e["step"] >= 1] if rid else []
    store.close()
    if docs and docs[0].get("status") in ("completed", "failed", "rolled_back", "rollback_failed", "superseded"):
        raise SystemExit(f"demo: rollout {rid} ended ({docs[0]['status']}) before a wave ran")
    running = [e["region"] for e in waves if procs.with_environ(BATCH_TAG, f"{rid}/{e['region']}")]
    if running:
        pid = sv.processes()[f"lab-worker-{running[0]}"].pid
        os.kill(pid, signal.SIGKILL)
        print(f"killed lab-worker-{running[0]} (pid {pid}) in the middle of its batch of {rid}")
        break
    time.sleep(0.1)
else:  # say so: the rest of the demo would show no retry
    raise SystemExit("demo: no regional batch was seen running within 180 s; nothing killed")
PY
then
  kill "$starter" 2>/dev/null || true  # (it has ended, unless it hangs)
  wait "$starter" 2>/dev/null || true
  cat .fleetctl/demo-temporal/start.log
  exit 1
fi

step "the rollout goes on: the batch is retried after the heartbeat timeout (10 s)"
set +e
wait "$starter"
rc=$?
set -e
cat .fleetctl/demo-temporal/start.log
if [ "$rc" -ne 0 ]; then echo "demo: expected the rollout to complete (exit 0), got $rc" >&2; exit 1; fi
rid=$($F rollout list --env lab --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
$PY - "$rid" <<'PY'
import os, sys
from fleetctl.adapters.state.sqlite import SqliteStore
s = SqliteStore(os.environ["FLEETCTL_STATE"])
for e in s.events(sys.argv[1]):
    if e["type"] == "step_applied":
        print(f"  step {e['step']} {e['label']:<26} region {e.get('region', ''):<10} "
              f"attempt {e.get('attempt', 1)}  {e['status']}")
if not any(e["type"] == "step_applied" and e.get("attempt", 1) > 1 for e in s.events(sys.argv[1])):
    raise SystemExit("demo: no step shows a retried batch (attempt 2): the kill did not land")
PY

step "fleetctl rollout why $rid  (the same journal as the local engine)"
$F rollout why "$rid" | tail -15

step "every edge serves the release"
$F lab status
printf '\ndemo-temporal finished in %ss\n' "$(( $(date +%s) - started ))" >&2
