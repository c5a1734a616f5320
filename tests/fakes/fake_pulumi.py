"""A stand-in for the `pulumi` CLI, enough for the Automation API code paths.

No Pulumi CLI can be installed on these machines; this fake speaks the part
of its protocol that `pulumi.automation` uses for a local program: `version`,
`stack select|init|history|output`, `preview`, `up`, `destroy` (with
`--preview-only`), writing engine events as JSON lines to `--event-log`.

The "program" it runs is the stack's spec: the resources `fleetctl drift`
expects (`fleetctl.core.drift.expected_resources`), so a spec change shows up
as create / update / delete. State lives where PULUMI_BACKEND_URL (file://DIR)
says, like the real file backend: DIR/.pulumi/stacks/<project>/<stack>.json.

Knobs for tests: FAKE_PULUMI_LOG=path appends every argv; FAKE_PULUMI_FAIL=name
makes `up` fail on the resource whose name contains `name`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

TYPES = {
    "bucket": "aws:s3/bucket:Bucket",
    "launch_template": "aws:ec2/launchTemplate:LaunchTemplate",
    "asg": "aws:autoscaling/group:Group",
    "queue": "aws:sqs/queue:Queue",
}


def die(message: str, code: int = 255) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def option(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def project_name() -> str:
    text = Path("Pulumi.yaml").read_text()
    m = re.search(r"^name:\s*(\S+)", text, re.M)
    return m.group(1) if m else "project"


def state_path(stack: str) -> Path:
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not url.startswith("file://"):
        die("PULUMI_BACKEND_URL is not a file:// backend (this fake only knows those)")
    return Path(url[len("file://") :]) / ".pulumi" / "stacks" / project_name() / f"{stack}.json"


def load_state(stack: str) -> dict[str, Any]:
    path = state_path(stack)
    if not path.exists():
        die(f"no stack named '{stack}' found")
    return dict(json.loads(path.read_text()))


def save_state(stack: str, state: dict[str, Any]) -> None:
    path = state_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=1, sort_keys=True))


def desired(stack: str) -> dict[str, dict[str, Any]]:
    from fleetctl.core.drift import expected_resources
    from fleetctl.spec import load_fleet

    spec_stack = load_fleet(Path.cwd()).stack(stack)
    project = project_name()
    out: dict[str, dict[str, Any]] = {}
    for r in expected_resources(spec_stack):
        typ = TYPES[r.kind]
        urn = f"urn:pulumi:{stack}::{project}::{typ}::{r.name}"
        digest = hashlib.sha256(json.dumps(r.props, sort_keys=True).encode()).hexdigest()
        out[urn] = {"type": typ, "name": r.name, "digest": digest}
    return out


class EventLog:
    def __init__(self, path: str | None) -> None:
        self.f = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self.seq = 0

    def emit(self, **event: Any) -> None:
        if self.f is None:
            return
        self.seq += 1
        self.f.write(json.dumps({"sequence": self.seq, "timestamp": int(time.time()), **event}))
        self.f.write("\n")
        self.f.flush()

    def close(self) -> None:
        if self.f is not None:
            self.emit(cancelEvent={})
            self.f.close()


def plan(
    stack: str, current: dict[str, Any], destroy: bool
) -> list[tuple[str, str, dict[str, Any]]]:
    want = {} if destroy else desired(stack)
    steps: list[tuple[str, str, dict[str, Any]]] = []
    for urn, res in want.items():
        have = current.get(urn)
        if have is None:
            steps.append(("create", urn, res))
        elif have["digest"] != res["digest"]:
            steps.append(("update", urn, res))
        else:
            steps.append(("same", urn, res))
    for urn, res in current.items():
        if urn not in want:
            steps.append(("delete", urn, res))
    return steps


def run_update(args: list[str], kind: str) -> None:
    stack = option(args, "--stack") or die("no --stack")  # type: ignore[func-returns-value]
    assert stack is not None
    state = load_state(stack)
    preview_only = kind == "preview" or "--preview-only" in args
    log = EventLog(option(args, "--event-log"))
    log.emit(preludeEvent={"config": {}})
    started = time.time()
    current: dict[str, Any] = state.get("resources", {})
    counts: dict[str, int] = {}
    fail = os.environ.get("FAKE_PULUMI_FAIL", "")
    failed = False
    for op, urn, res in plan(stack, current, destroy=kind == "destroy"):
        counts[op] = counts.get(op, 0) + 1
        meta = {"op": op, "urn": urn, "type": res["type"], "provider": ""}
        log.emit(resourcePreEvent={"metadata": meta, "planning": preview_only})
        if preview_only or op == "same":
            if not preview_only:
                log.emit(resOutputsEvent={"metadata": meta})
            continue
        print(f"    {op} {res['type']} {res['name']}")
        if fail and fail in res["name"]:
            log.emit(
                diagnosticEvent={
                    "message": f"creating {res['name']}: AccessDenied: not allowed\n",
                    "severity": "error",
                    "urn": urn,
                }
            )
            log.emit(resOpFailedEvent={"metadata": meta, "status": 1, "steps": 1})
            failed = True
            break
        if op == "delete":
            current.pop(urn, None)
        else:
            current[urn] = res
        log.emit(resOutputsEvent={"metadata": meta})
    log.emit(
        summaryEvent={
            "maybeCorrupt": False,
            "durationSeconds": int(time.time() - started),
            "resourceChanges": counts,
            "PolicyPacks": {},
        }
    )
    log.close()
    if not preview_only:
        state["resources"] = current
        state.setdefault("history", []).insert(
            0,
            {
                "kind": kind,
                "startTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(started)),
                "endTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "message": "",
                "environment": {},
                "config": {},
                "result": "failed" if failed else "succeeded",
                "resourceChanges": counts,
                "version": len(state.get("history", [])) + 1,
            },
        )
        save_state(stack, state)
    if failed:
        die("update failed")
    print(f"Resources: {counts}")


def main(argv: list[str]) -> None:
    if log := os.environ.get("FAKE_PULUMI_LOG"):
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(argv) + "\n")
    args = [a for a in argv if a != "--non-interactive"]
    if not args:
        die("no command")
    cmd = args[0]
    if cmd == "version":
        print("v3.200.0")
    elif cmd == "stack" and args[1:2] == ["select"]:
        load_state(option(args, "--stack") or "")
    elif cmd == "stack" and args[1:2] == ["init"]:
        name = args[2]
        if state_path(name).exists():
            die(f"stack '{name}' already exists")
        save_state(name, {"resources": {}, "history": []})
    elif cmd == "stack" and args[1:2] == ["history"]:
        state = load_state(option(args, "--stack") or "")
        size = int(option(args, "--page-size") or 0)
        history = state.get("history", [])
        print(json.dumps(history[:size] if size else history))
    elif cmd == "stack" and args[1:2] == ["output"]:
        state = load_state(option(args, "--stack") or "")
        print(json.dumps({"resources": len(state.get("resources", {}))}))
    elif cmd in ("preview", "up", "destroy"):
        run_update(args, cmd)
    else:
        die(f"fake pulumi does not know {' '.join(args)}")


if __name__ == "__main__":
    main(sys.argv[1:])
