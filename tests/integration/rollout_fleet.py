"""A small HTTP fleet for engine tests: one real HTTP server per "edge" on a
loopback port, and an executor that configures them the way the edge role
configures nginx (release header, response delay, broken paths).

Real sockets and real probes; only Ansible is replaced (the lab e2e tests
run the real playbooks over SSH).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SEGMENT = "/vod/seg0.ts"

# These edges are threads in the test process: on a loaded machine (xdist
# workers, other jobs on 2 cores) a median moves by tens of ms from scheduling
# alone, and the policy default floor (5 ms) turns that into a "regression".
# Tests use a latency effect floor far above that noise, and the tests about a
# latency regression inject a delay far above the floor (and below the http
# gate's p95 limit, 1000 ms, so the canary analysis is the gate that sees it).
NOISE_FLOOR_MS = 100.0
REGRESSION_DELAY_MS = 300
# An HTTP probe that takes longer than the default 2 s on a loaded machine
# would count as an error and fail the http gate: not what these tests judge.
PROBE_TIMEOUT_S = 10.0
HTTP_GATE: dict[str, Any] = {
    "paths": ["/healthz", SEGMENT],
    "samples": 20,
    "min_samples": 10,
    "timeout_s": PROBE_TIMEOUT_S,
}
CANARY_ANALYSIS: dict[str, Any] = {"min_samples": 20, "min_effect_ms": NOISE_FLOOR_MS}

# A policy for one wave per region judged by real probes: HTTP on the changed edges
# (health and a video segment) and the canary analysis against the unchanged ones.
# Read-only: tests build theirs with `{**PROBED_POLICY, ...}`.
PROBED_POLICY: dict[str, Any] = {
    "bake_s": 0,
    "waves": ["100%"],
    "gates": {"http": HTTP_GATE, "canary_analysis": CANARY_ANALYSIS},
}


@dataclass
class EdgeState:
    release: str = "unreleased"
    delay_ms: float = 0.0
    broken: tuple[str, ...] = ()


@dataclass
class FakeEdge:
    name: str
    region: str
    weight: float
    state: EdgeState = field(default_factory=EdgeState)
    reachable: bool = True  # "sshd": can the executor reach it?
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])


def _handler(edge: FakeEdge) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            st = edge.state
            if st.delay_ms:
                time.sleep(st.delay_ms / 1000)
            code = 503 if any(self.path.startswith(p) for p in st.broken) else 200
            body = b"ok\n" if self.path == "/healthz" else b"x" * 2048
            self.send_response(code)
            self.send_header("X-Fleet-Release", st.release)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return H


@dataclass
class Outcome:
    state: str
    changed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "changed": self.changed}


@dataclass
class Result:
    status: str
    hosts: dict[str, Outcome]
    error: str = ""
    duration_s: float = 0.0


@dataclass
class Call:
    limit: list[str]
    check: bool
    release: str
    extravars: dict[str, Any]


class FakeFleet:
    def __init__(self, root: Path, spec: dict[str, tuple[float, int]]) -> None:
        self.root = root
        self.edges: dict[str, FakeEdge] = {}
        self.calls: list[Call] = []
        self.crash_at_call: int | None = None  # raise inside the executor on call N (1-based)
        self.on_call: Callable[[Call], None] | None = None
        # call N (1-based) -> seconds it runs, polling `cancel` twice a second as
        # ansible-runner does (a long Ansible batch)
        self.run_for_s: dict[int, float] = {}
        for region, (weight, n) in spec.items():
            for i in range(n):
                name = f"{region}-e{i}"
                edge = FakeEdge(name, region, weight)
                edge.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(edge))
                threading.Thread(
                    target=edge.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
                ).start()
                self.edges[name] = edge
        self.write_workspace()

    def write_workspace(self) -> None:
        (self.root / "stacks").mkdir(parents=True, exist_ok=True)
        (self.root / "stacks" / "Pulumi.yaml").write_text("name: fleet\nruntime: python\n")
        pb = self.root / "playbooks"
        (pb / "roles" / "edge").mkdir(parents=True, exist_ok=True)
        (pb / "edge.yml").write_text("- hosts: edge\n  roles: [edge]\n")
        (pb / "roles" / "edge" / "defaults.yml").write_text("edge_response_delay_ms: 0\n")
        inv = self.root / "inventories" / "lab"
        inv.mkdir(parents=True, exist_ok=True)
        lines = ["all:", "  children:", "    edge:", "      hosts:"]
        for e in self.edges.values():
            lines.append(
                f"        {e.name}: {{ansible_host: 127.0.0.1, http_port: {e.port}, "
                f"region: {e.region}, fleet_role: edge, traffic_weight: {e.weight}}}"
            )
        (inv / "hosts.yml").write_text("\n".join(lines) + "\n")

    def close(self) -> None:
        for e in self.edges.values():
            if e.server is not None:
                e.server.shutdown()
                e.server.server_close()

    def releases(self) -> dict[str, str]:
        return {n: e.state.release for n, e in self.edges.items()}

    def executor(
        self,
        playbook: Path,
        inventory: Path,
        *,
        limit: Sequence[str],
        check: bool,
        diff: bool,
        extravars: dict[str, Any],
        timeout_s: float | None,
        cancel: Callable[[], bool] | None,
        env: dict[str, str] | None = None,
    ) -> Result:
        assert playbook.is_file() and inventory.exists()
        assert env is not None and env["FLEETCTL_ROLLOUT_ID"].startswith("r-")  # runs are tagged
        call = Call(list(limit), check, str(extravars.get("fleet_release")), dict(extravars))
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        if self.crash_at_call is not None and len(self.calls) == self.crash_at_call:
            raise SystemExit("simulated crash in the middle of a batch")
        end = time.monotonic() + self.run_for_s.get(len(self.calls), 0.0)
        while time.monotonic() < end:
            if cancel is not None and cancel():
                return Result("canceled", {}, "canceled")
            time.sleep(0.5)
        want = EdgeState(
            release=call.release,
            delay_ms=float(extravars.get("edge_response_delay_ms", 0)),
            broken=tuple(extravars.get("edge_broken_paths", ())),
        )
        hosts: dict[str, Outcome] = {}
        for name in limit:
            edge = self.edges[name]
            if not edge.reachable:
                hosts[name] = Outcome("unreachable")
                continue
            if name in extravars.get("fail_hosts", ()):
                hosts[name] = Outcome("failed")
                continue
            differs = edge.state != want
            if not check:
                edge.state = want
            hosts[name] = Outcome("changed" if differs else "ok", int(differs))
        bad = any(o.state in ("failed", "unreachable") for o in hosts.values())
        return Result("failed" if bad else "successful", hosts)
