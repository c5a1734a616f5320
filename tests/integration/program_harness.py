"""Run stacks/__main__.py for one stack under Pulumi's mock runtime and print
the registered resources as JSON lines (type, name, parent, inputs).

Run in its own process (the SDK keeps module state):
    python tests/integration/program_harness.py STACKS_DIR STACK_NAME
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks

from fleetctl.spec import load_fleet


class RecordingMonitor(mocks.MockMonitor):
    """MockMonitor that also records the parent of each resource (Mocks cannot see it)."""

    parents: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.parents[response.urn] = request.parent
        return response


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append({"type": args.typ, "name": args.name, "inputs": args.inputs})
        # Like the provider, fill in what only the cloud knows: ids, ARNs, names.
        state = dict(args.inputs)
        state.setdefault("arn", f"arn:aws:mock:::{args.name}")
        state.setdefault("name", args.name)
        if args.typ == "aws:sqs/queue:Queue":
            state.setdefault("url", f"https://sqs.mock/{state['name']}")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def main() -> None:
    stacks_dir, stack_name = Path(sys.argv[1]), sys.argv[2]
    fleet = load_fleet(stacks_dir)
    stack = fleet.stack(stack_name)
    import ruamel.yaml

    raw = ruamel.yaml.YAML(typ="safe").load(Path(stack.source).read_text())["config"]
    config = {k: (json.dumps(v) if isinstance(v, dict | list) else str(v)) for k, v in raw.items()}
    for key in stack.secrets:
        config[key] = "[secret]"
    config["fleet:defaults"] = json.dumps(fleet.project.defaults)
    pulumi.runtime.set_all_config(config, secret_keys=list(stack.secrets))
    recorder = Recorder()
    monitor = RecordingMonitor(recorder)
    pulumi.runtime.set_mocks(
        recorder, project="fleet", stack=stack_name, preview=False, monitor=monitor
    )

    @pulumi.runtime.test
    def run() -> pulumi.Output[int]:
        runpy.run_path(str(stacks_dir / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(1)

    run()
    records = {(r["type"], r["name"]): r for r in recorder.resources}
    for urn, parent in monitor.parents.items():
        typ, name = _type_and_name(urn)
        record = records.setdefault((typ, name), {"type": typ, "name": name, "inputs": {}})
        record["parent"] = _type_and_name(parent)[1] if parent else None
        record["parent_type"] = _type_and_name(parent)[0] if parent else None
    for record in records.values():
        print(json.dumps(record, default=str, sort_keys=True))


def _type_and_name(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<parent types$>type::name
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1], parts[3]


if __name__ == "__main__":
    main()
