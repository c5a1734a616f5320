"""The lab: a small real fleet on this machine.

Every lab host gets a loopback address `<subnet>.<11+i>`, a sandbox directory
(`lab_root`), its own sshd on `<addr>:2222` (Ansible reaches it over real SSH
with a lab key), and - by role - an nginx on `<addr>:8080` or a transcode
worker. One supervisord (in the lab directory) runs every process. The lab
inventory is generated from the lab state; `site.yml` then configures it.

Layout of the lab directory (default `.fleetctl/lab`, `FLEETCTL_LAB_DIR`):

    lab.json              the lab state (hosts, addresses, paths)
    hosts.yml             the generated Ansible inventory
    supervisord.conf      programs: <host>-sshd, <host>-nginx, <host>-worker, lab-delay
    ssh/                  the lab key, authorized_keys, known_hosts
    hosts/<name>/         each host's sandbox (lab_root)
    logs/                 supervisord and program logs
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.adapters import http_probe, procs
from fleetctl.adapters.lab import net, sshd, traffic_state
from fleetctl.adapters.lab import programs as lab_programs
from fleetctl.adapters.lab.binaries import binary, check_binaries
from fleetctl.adapters.supervisor import Program, Supervisor, render_config, supervisorctl_command
from fleetctl.core.host_vars import HostVars
from fleetctl.core.traffic import integer_weights, server_weights
from fleetctl.errors import BadInput, JobFailed, OutsideError
from fleetctl.services import lab_monitoring, lab_temporal

LAB_ENV = "lab"  # the env name of the lab (fleetctl.services.target decides envs)
DEFAULT_DIR = ".fleetctl/lab"
DEFAULT_SUBNET = "127.0.10"
DEFAULT_HOSTS = 6
MAX_HOSTS = 200
SSH_PORT = 2222
HTTP_PORT = 8080
HTTPS_PORT = 8443  # edges only: TLS with a certificate from the lab CA (adapters/tls.py)
TLS_DIR = "tls"  # in the lab dir: the lab CA (ca.pem; ca.key 0600, never leaves it)
DELAY_PORT = 8099
SAMPLE_PATH = "/vod/sample"  # the HLS ladder the origin makes at set-up

# (region, pop, traffic weight): three lab regions of different size.
LAB_REGIONS: tuple[tuple[str, str, float], ...] = (
    ("lab-small", "lsm", 0.1),
    ("lab-mid", "lmd", 0.3),
    ("lab-big", "lbg", 0.6),
)
CORE_REGION = ("lab-core", "lcr", 0.0)  # origin and transcode (not serving viewers)

PROGRAMS_BY_ROLE = {
    "origin": ("sshd", "nginx"),
    "edge": ("sshd", "nginx"),
    "transcode": ("sshd", "worker"),
    "router": ("sshd", "nginx"),
}
ROUTER_NAME = "lab-router-01"


@dataclass(frozen=True)
class LabHost:
    name: str
    role: str  # origin | edge | transcode | router
    region: str
    pop: str
    traffic_weight: float
    address: str
    ssh_port: int
    http_port: int
    lab_root: str

    @property
    def programs(self) -> tuple[str, ...]:
        return PROGRAMS_BY_ROLE[self.role]

    def program(self, kind: str) -> str:
        """Supervisor program name of one of this host's daemons (sshd, nginx, worker)."""
        if kind not in self.programs:
            raise BadInput(f"{self.name} has no {kind} (it runs {', '.join(self.programs)})")
        return f"{self.name}-{kind}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.address}:{self.http_port}{path}"


@dataclass(frozen=True)
class Lab:
    dir: str
    subnet: str
    user: str
    hosts: tuple[LabHost, ...]
    key_file: str
    known_hosts: str
    inventory: str
    python: str
    created: float = field(default_factory=time.time)

    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise BadInput(f"no lab host {name!r}", hint=f"hosts: {', '.join(self.names())}")

    def names(self, role: str | None = None) -> list[str]:
        return [h.name for h in self.hosts if role is None or h.role == role]

    def by_role(self, role: str) -> list[LabHost]:
        return [h for h in self.hosts if h.role == role]

    @property
    def delay_address(self) -> str:
        return f"{self.subnet}.1:{DELAY_PORT}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lab:
        hosts = tuple(LabHost(**h) for h in data.pop("hosts"))
        return cls(hosts=hosts, **data)


@dataclass(frozen=True)
class HostStatus:
    host: LabHost
    processes: dict[str, str]  # kind -> supervisor state
    release: str  # X-Fleet-Release of /healthz ("" when unknown)
    health: str  # ok | drained | fail: <why> | n/a
    segment: str  # ok | fail: <why> | n/a  (a segment fetched through the edge)

    def to_dict(self) -> dict[str, Any]:
        h = self.host
        return {
            "host": h.name,
            "role": h.role,
            "region": h.region,
            "address": h.address,
            "ssh_port": h.ssh_port,
            "http_port": h.http_port,
            "processes": self.processes,
            "release": self.release,
            "health": self.health,
            "segment": self.segment,
        }


# -- planning (pure) --------------------------------------------------------------


def check_subnet(subnet: str) -> str:
    m = re.fullmatch(r"127\.(\d{1,3})\.(\d{1,3})", subnet)
    if not m or not all(0 <= int(x) <= 255 for x in m.groups()):
        raise BadInput(
            f"bad lab subnet {subnet!r}",
            hint="give the first three octets of a loopback block, e.g. 127.0.10",
        )
    return subnet


def plan_hosts(n: int, subnet: str, lab_dir: Path) -> list[LabHost]:
    """Roles and regions for n fleet hosts: one origin, a transcode worker when
    n >= 5, and edges spread over the three lab regions (one each, the rest by
    weight). The traffic router (in front of the edges) comes on top, last, so
    the fleet hosts keep their addresses."""
    if n < 4 or n > MAX_HOSTS:
        raise BadInput(f"a lab needs 4 to {MAX_HOSTS} hosts (got {n})")
    check_subnet(subnet)
    n_edges = n - 2 if n >= 5 else n - 1
    per_region = [1] * len(LAB_REGIONS)
    for _ in range(n_edges - len(LAB_REGIONS)):
        # give the next edge to the region furthest below its traffic share
        total = sum(per_region) + 1
        gaps = [w * total - c for (_, _, w), c in zip(LAB_REGIONS, per_region, strict=True)]
        per_region[gaps.index(max(gaps))] += 1
    specs: list[tuple[str, str, str, str, float]] = [("lab-origin-01", "origin", *CORE_REGION)]
    if n >= 5:
        specs.append(("lab-transcode-01", "transcode", *CORE_REGION))
    for (region, pop, weight), count in zip(LAB_REGIONS, per_region, strict=True):
        short = region.removeprefix("lab-")
        for i in range(count):
            specs.append((f"lab-edge-{short}-{i + 1:02d}", "edge", region, pop, weight))
    specs.append((ROUTER_NAME, "router", *CORE_REGION))
    return [
        LabHost(
            name=name,
            role=role,
            region=region,
            pop=pop,
            traffic_weight=weight,
            address=f"{subnet}.{11 + i}",
            ssh_port=SSH_PORT,
            http_port=HTTP_PORT,
            lab_root=str(lab_dir / "hosts" / name),
        )
        for i, (name, role, region, pop, weight) in enumerate(specs)
    ]


def group_name(text: str) -> str:
    """Ansible group names may not hold '-': lab-small -> lab_small."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def host_vars(lab: Lab, h: LabHost) -> HostVars:
    """A lab host as inventory vars (its sandbox in `lab_root`)."""
    return HostVars(
        name=h.name,
        env=LAB_ENV,
        region=h.region,
        role=h.role,
        pop=h.pop,
        traffic_weight=h.traffic_weight,
        address=h.address,
        ssh_port=h.ssh_port,
        http_port=h.http_port,
        extra={"lab_root": h.lab_root, **({"https_port": HTTPS_PORT} if h.role == "edge" else {})},
    )


def inventory_data(lab: Lab, weights: dict[str, int] | None = None) -> dict[str, Any]:
    """The lab inventory (Ansible YAML inventory structure). `weights`: the
    router's region weights (None: the spec's)."""
    origin = lab.by_role("origin")[0]
    hostvars = {h.name: host_vars(lab, h).to_vars() for h in lab.hosts}
    children: dict[str, Any] = {LAB_ENV: {"hosts": {n: None for n in hostvars}}}
    for role in ("origin", "edge", "transcode", "router"):
        children[role] = {"hosts": {h.name: None for h in lab.by_role(role)}}
    for region in sorted({h.region for h in lab.hosts}):
        children[group_name(region)] = {
            "hosts": {h.name: None for h in lab.hosts if h.region == region}
        }
    children["edge"]["vars"] = {
        "edge_cache_size_mb": 64,
        "edge_cache_valid": "10m",
        "edge_cache_inactive": "30m",
    }
    if lab.by_role("router"):
        children["router"]["vars"] = render_router_vars(lab, weights or spec_router_weights())
    from fleetctl.adapters.ffmpeg import ffmpeg_exe

    ffmpeg = ffmpeg_exe()
    all_vars = {
        "ansible_user": lab.user,
        "ansible_ssh_private_key_file": lab.key_file,
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes"
            " -o IdentitiesOnly=yes"
        ),
        "ansible_python_interpreter": lab.python,
        "common_supervisorctl": supervisorctl_command(Path(lab.dir) / "supervisord.conf"),
        "edge_origin_url": f"http://{origin.address}:{origin.http_port}",
        "edge_delay_upstream": lab.delay_address,
        "tls_ca_file": str(ca_file(lab)),
        "origin_ffmpeg": ffmpeg,
        "transcode_ffmpeg": ffmpeg,
        "transcode_output_dir": f"{origin.lab_root}/www/vod",
        # the nginx the lab found (the roles' default is Debian's /usr/sbin/nginx)
        **{f"{role}_nginx": binary("nginx") for role in ("origin", "edge", "router")},
    }
    return {"all": {"vars": all_vars, "hosts": hostvars, "children": children}}


def ca_file(lab: Lab) -> Path:
    """The lab CA's certificate: what clients verify edges against."""
    return Path(lab.dir) / TLS_DIR / "ca.pem"


def dynamic_inventory(
    lab: Lab, names: Sequence[str] | None = None, weights: dict[str, int] | None = None
) -> dict[str, Any]:
    """The lab inventory (the same hosts, groups and vars as its hosts.yml) in
    Ansible's dynamic inventory JSON (`--list`): groups with hosts/vars/children,
    host vars under `_meta.hostvars`. `names`: only these hosts."""
    data = inventory_data(lab, weights)["all"]
    keep = set(lab.names() if names is None else names)
    hostvars = {n: v for n, v in data["hosts"].items() if n in keep}
    out: dict[str, Any] = {
        "_meta": {"hostvars": hostvars},
        "all": {"children": ["ungrouped", *data["children"]], "vars": data["vars"]},
        "ungrouped": {"hosts": []},
    }
    # the file's order, which is the order plays visit hosts in
    for group, body in data["children"].items():
        out[group] = {"hosts": [n for n in body["hosts"] if n in keep]}
        if body.get("vars"):
            out[group]["vars"] = body["vars"]
    return out


def lab_host_vars(lab: Lab, name: str) -> dict[str, Any]:
    """`--host NAME`: that host's vars ({} for an unknown host, as Ansible expects)."""
    return dict(inventory_data(lab)["all"]["hosts"].get(name, {}))  # host vars hold no weights


def spec_router_weights() -> dict[str, int]:
    """The router's integer region weights from the lab's spec weights (10/30/60)."""
    weights = {region: w for region, _pop, w in LAB_REGIONS}
    return integer_weights(weights, top=round(max(weights.values()) * 100))


def router_weights(lab_dir: Path | str) -> dict[str, int]:
    """The router's region weights now: the recorded ones (a region drain), else the spec's."""
    recorded = traffic_state.read(lab_dir)
    return spec_router_weights() if recorded is None else recorded


def router_vars(lab: Lab) -> dict[str, Any]:
    """The router group's inventory vars with the weights in force now."""
    return render_router_vars(lab, router_weights(lab.dir))


def render_router_vars(lab: Lab, weights: dict[str, int]) -> dict[str, Any]:
    """The router group's inventory vars: region weights and weighted backends."""
    edges = lab.by_role("edge")
    servers: dict[str, list[str]] = {}
    for h in edges:
        servers.setdefault(h.region, []).append(h.name)
    per_server = server_weights(weights, servers)
    return {
        "router_region_weights": dict(sorted(weights.items())),
        "router_backends": [
            {
                "name": h.name,
                "region": h.region,
                "address": h.address,
                "port": h.http_port,
                "weight": per_server[h.name],
            }
            for h in sorted(edges, key=lambda h: h.name)
        ],
    }


def set_router_weights(lab: Lab, weights: dict[str, int] | None) -> None:
    """Record the router's region weights (None: back to the spec's) and re-render
    the inventory with them; `playbooks/router.yml` then puts them in force. A
    re-run of `lab up` or `apply router.yml` keeps them: both read this state."""
    traffic_state.write(lab.dir, weights)
    _write_inventory(lab, weights)


def router(lab: Lab) -> LabHost | None:
    routers = lab.by_role("router")
    return routers[0] if routers else None


def programs(lab: Lab) -> list[Program]:
    out: list[Program] = []
    for h in lab.hosts:
        root = Path(h.lab_root)
        out.append(lab_programs.sshd(h.program("sshd"), root))
        if "nginx" in h.programs:
            out.append(lab_programs.nginx(h.program("nginx"), root))
        if "worker" in h.programs:
            out.append(lab_programs.worker(h.program("worker"), root, lab.python))
    out.append(lab_programs.delay(lab.python, f"{lab.subnet}.1", DELAY_PORT))
    return out + lab_monitoring.programs(lab) + lab_temporal.programs(lab)


# -- set-up ----------------------------------------------------------------------


def resolve_dir(lab_dir: Path | str | None, root: Path | None = None) -> Path:
    """--dir wins, then FLEETCTL_LAB_DIR, then .fleetctl/lab under the project root."""
    if lab_dir is None:
        lab_dir = os.environ.get("FLEETCTL_LAB_DIR") or ((root or Path.cwd()) / DEFAULT_DIR)
    return Path(lab_dir).resolve()


def load_lab(lab_dir: Path) -> Lab | None:
    try:
        return Lab.from_json(json.loads((lab_dir / "lab.json").read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError, AttributeError, OSError, RecursionError) as exc:
        raise OutsideError(
            f"unreadable lab state {lab_dir / 'lab.json'}: {exc}",
            hint="`fleetctl lab down` then `fleetctl lab up` rebuilds it",
        ) from exc


def require(lab_dir: Path) -> Lab:
    lab = load_lab(lab_dir)
    if lab is None:
        raise BadInput(f"no lab in {lab_dir}", hint="start one with: fleetctl lab up")
    return lab


def lab_up(
    n_hosts: int = DEFAULT_HOSTS,
    *,
    lab_dir: Path,
    playbooks_dir: Path,
    subnet: str = DEFAULT_SUBNET,
    inventory_copy: Path | None = None,
    apply: bool = True,
    strategy: str = "auto",
    on_event: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
    prometheus: bool = False,
    temporal: dict[str, Any] | None = None,
) -> Lab:
    """Start (or reconcile) the lab and configure it with site.yml. Idempotent.
    `prometheus` adds monitoring (services.lab_monitoring); it stays on for re-ups."""
    say = progress or (lambda _msg: None)
    check_binaries()
    lab_dir = lab_dir.resolve()
    old = load_lab(lab_dir)
    if old is not None and old.subnet != subnet:
        raise BadInput(
            f"the lab in {lab_dir} uses subnet {old.subnet}, not {subnet}",
            hint="fleetctl lab down first, or pass the same --subnet",
        )
    hosts = plan_hosts(n_hosts, subnet, lab_dir)
    _check_addresses_free(hosts, old)
    user = getpass.getuser()
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privsep dir
    ssh_dir = lab_dir / "ssh"
    sshd.keygen(ssh_dir / "id_ed25519", "fleetctl-lab")
    shutil.copyfile(ssh_dir / "id_ed25519.pub", ssh_dir / "authorized_keys")
    known = []
    moved: list[LabHost] = []
    for h in hosts:
        root = Path(h.lab_root)
        for sub in ("etc/ssh", "run", "log"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        sshd.keygen(sshd.host_key(root), h.name)
        conf = root / "etc/ssh/sshd_config"
        text = sshd.sshd_config(h.address, h.ssh_port, root, lab_dir, user)
        if conf.exists() and conf.read_text() != text:
            moved.append(h)  # a re-up with another size: this host got a new address
        conf.write_text(text)
        known.append(sshd.known_hosts_line(h.address, h.ssh_port, root))
    (ssh_dir / "known_hosts").write_text("\n".join(known) + "\n")
    inventory = inventory_copy or (lab_dir / "hosts.yml")
    lab = Lab(
        dir=str(lab_dir),
        subnet=subnet,
        user=user,
        hosts=tuple(hosts),
        key_file=str(ssh_dir / "id_ed25519"),
        known_hosts=str(ssh_dir / "known_hosts"),
        inventory=str(inventory),
        python=sys.executable,
        created=old.created if old else time.time(),
    )
    # hosts dropped by a smaller re-up
    if old is not None:
        gone = {h.name for h in old.hosts} - {h.name for h in hosts}
        for name in gone:
            shutil.rmtree(lab_dir / "hosts" / name, ignore_errors=True)

    from fleetctl.adapters import tls

    for h in lab.by_role("edge"):
        tls.provision_edge(lab_dir / TLS_DIR, h.name, h.address, Path(h.lab_root) / "nginx/tls")
    if prometheus:
        lab_monitoring.write_config(lab)
    if temporal is not None:  # {"root": workspace, "state_url": ...}
        lab_temporal.write_config(lab, **temporal)
    sv = Supervisor(lab_dir)
    sv.conf.write_text(render_config(lab_dir, programs(lab)))
    _write_inventory(lab, traffic_state.read(lab_dir))
    (lab_dir / "lab.json").write_text(json.dumps(lab.to_json(), indent=2) + "\n")
    if sv.running():
        say("supervisord running; reconciling programs")
        sv.reload_config()
        for h in moved:
            sv.stop_program(h.program("sshd"))
        for h in hosts:
            sv.start_program(h.program("sshd"))
        sv.start_program("lab-delay")
    else:
        say(f"starting supervisord with {len(hosts)} sshd")
        sv.start()
    if lab_temporal.enabled(lab_dir):
        say("starting the Temporal dev server and the rollout workers")
        lab_temporal.start(lab, sv)
    for h in hosts:
        if not net.wait_port(h.address, h.ssh_port, 15):
            log = lab_dir / "logs" / (h.program("sshd") + ".log")
            try:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            except OSError:
                tail = []
            raise OutsideError(
                f"sshd of {h.name} does not listen on {h.address}:{h.ssh_port}",
                hint=f"its log says why (last lines below): {log}",
                details=tail,
            )
    if apply:
        say(f"applying site.yml to {len(hosts)} hosts")
        from fleetctl.adapters.ansible import run_playbook

        result = run_playbook(
            playbooks_dir / "site.yml",
            Path(lab.inventory),
            strategy=strategy,  # type: ignore[arg-type]
            on_event=on_event,
        )
        for notice in result.notices:
            say(notice)
        if not result.ok:
            details = [
                f"{h}: {o.state}: {'; '.join(o.failed_msgs)[:300]}"
                for h, o in sorted(result.hosts.items())
                if o.state in ("failed", "unreachable")
            ] or [result.error or f"status {result.status}"]
            raise JobFailed(
                "the lab is up but site.yml failed on some hosts",
                hint="fix the cause, then run fleetctl lab up again (it is idempotent)",
                details=details,
            )
    return lab


def _check_addresses_free(hosts: Sequence[LabHost], old: Lab | None) -> None:
    """Refuse to start on addresses another process already listens on."""
    if old is not None:
        return
    for h in hosts[:3]:
        for port in (h.ssh_port, h.http_port):
            if net.in_use(h.address, port):
                raise BadInput(
                    f"{h.address}:{port} is already in use",
                    hint="another lab runs on this subnet: pass --subnet 127.0.N",
                )


def _write_inventory(lab: Lab, weights: dict[str, int] | None = None) -> None:
    """Write hosts.yml; `weights`: the router's (None: the spec's)."""
    from ruamel.yaml import YAML

    path = Path(lab.inventory)
    path.parent.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    with path.open("w") as fh:
        fh.write(f"# generated by `fleetctl lab up` from {lab.dir}/lab.json; do not edit\n")
        yaml.dump(inventory_data(lab, weights), fh)


# -- status ------------------------------------------------------------------------


def lab_status(lab_dir: Path, probe: bool = True) -> tuple[Lab, list[HostStatus]]:
    lab = require(lab_dir)
    sv = Supervisor(lab_dir)
    infos = sv.processes() if sv.running() else {}
    out = []
    sample = f"{SAMPLE_PATH}/v2/seg_000.ts"
    for h in lab.hosts:
        states = {
            k: infos[h.program(k)].state if h.program(k) in infos else "DOWN" for k in h.programs
        }
        release, health, segment = "", "n/a", "n/a"
        if probe and "nginx" in h.programs:
            r = http_probe.get(h.url("/healthz"), timeout_s=2)
            release = r.headers.get("x-fleet-release", "")
            if r.headers.get("x-fleet-drained"):
                health = "drained"  # `fleetctl hosts drain`: 503 on purpose
            else:
                health = "ok" if r.ok else f"fail: {r.status or r.error}"
            s = http_probe.get(h.url(sample), timeout_s=3)
            segment = "ok" if s.ok and s.body_bytes > 0 else f"fail: {s.status or s.error}"
        elif probe and h.role == "transcode":
            health = "ok" if states.get("worker") == "RUNNING" else "fail: worker not running"
        out.append(HostStatus(h, states, release, health, segment))
    return lab, out


# -- fault injection ------------------------------------------------------------------


def stop(lab_dir: Path, host: str, kind: str) -> None:
    """Stop one daemon of one host (sshd, nginx, worker). Stopping sshd also ends
    its open sessions (and so SSH ControlPersist masters), so the host is really
    unreachable."""
    lab = require(lab_dir)
    prog = lab.host(host).program(kind)
    sv = Supervisor(lab_dir)
    info = sv.processes().get(prog)
    children = procs.descendants(info.pid) if info and info.pid else []
    sv.stop_program(prog)
    procs.terminate(children, grace_s=2)


def start(lab_dir: Path, host: str, kind: str) -> None:
    lab = require(lab_dir)
    h = lab.host(host)
    Supervisor(lab_dir).start_program(h.program(kind))
    if kind == "sshd" and not net.wait_port(h.address, h.ssh_port, 10):
        raise OutsideError(f"sshd of {host} did not come back")


# -- tear-down ----------------------------------------------------------------------


def lab_down(lab_dir: Path) -> list[str]:
    """Stop everything the lab started and remove the lab directory.

    Returns what was done (for people). Safe to run twice."""
    lab_dir = lab_dir.resolve()
    done: list[str] = []
    try:
        lab = load_lab(lab_dir)
    except OutsideError:
        lab = None  # unreadable state: still end what the directory and marks find
    sv = Supervisor(lab_dir)
    pid = sv.pid()
    if pid is not None:
        # sshd sessions outlive their listener: remember every descendant first
        tree = procs.descendants(pid)
        sv.shutdown()
        procs.terminate([p for p in tree if procs.alive(p)], grace_s=2)
        done.append(f"stopped supervisord (pid {pid}) and {len(tree)} processes under it")
    # whatever outlived supervisord or was never under it any more (supervisord
    # killed: its programs, the delay helper, sshd sessions and their children)
    stray = [p for p in sv.owned_processes(endpoints(lab)) if p.pid != os.getpid()]
    if stray:
        procs.terminate(stray, grace_s=2)
        done.append(f"ended {len(stray)} stray lab processes")
    left = leftover_processes(lab_dir, lab)
    if left:
        raise OutsideError(
            f"lab processes still running: {', '.join(map(str, left))}",
            hint="they did not stop on SIGKILL; see `ps -o pid,user,cmd -p <pid>`",
        )
    if (
        lab is not None
        and Path(lab.inventory).exists()
        and not Path(lab.inventory).is_relative_to(lab_dir)
    ):
        Path(lab.inventory).unlink()
        done.append(f"removed {lab.inventory}")
    if lab_dir.exists():
        shutil.rmtree(lab_dir, ignore_errors=True)
        done.append(f"removed {lab_dir}")
    sock = sv.sock
    if sock.exists():
        sock.unlink()
    return done


def endpoints(lab: Lab | None) -> list[tuple[str, int]]:
    """Every (address, port) a lab process listens on."""
    if lab is None:
        return []
    out = [(h.address, port) for h in lab.hosts for port in (h.ssh_port, h.http_port)]
    out += [(h.address, HTTPS_PORT) for h in lab.by_role("edge")]
    address, port = lab.delay_address.split(":")
    return [*out, (address, int(port))]


def leftover_processes(lab_dir: Path, lab: Lab | None = None) -> list[int]:
    """Pids of the lab's processes still alive (`lab` known: also whatever
    still holds its addresses)."""
    sv = Supervisor(lab_dir.resolve())
    return [p.pid for p in sv.owned_processes(endpoints(lab)) if p.pid != os.getpid()]
