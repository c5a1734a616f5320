"""Benchmark `fleetctl preview` (offline engine) against a baseline checkout, in one run.

Every figure is measured for two checkouts on the same machine in the same
run, case by case in alternation: "before" (`--baseline`, default /work/main)
and "after" (this checkout). Each side previews its own copy of the fleet with
its own code (stacks/ and fleetctl/ copied into a temp git repo; the same
region table in both, so both can load the largest fleet). Reported: wall
time, CPU seconds of the whole process tree (less sensitive to other load than
wall time), and after/before ratios.

Fleets: the sample prod fleet (8 stacks); "scaled" = prod + 5 copies (49
stacks, about 1,950 resources); "world" = 30 regions x 4 envs (120 stacks,
about 5,000 resources). Cases: cold (no preview graph cached; the worker's
byte-code and learned preload kept, as on a CI runner that restores
.fleetctl/cache), cached, and the pull-request case (one region's config
changed, `--base HEAD`, both sides cold). Plus CLI start-up: `--help` and
`validate`; with `--bytecode-venv DIR` (a venv synced with
`uv sync --compile-bytecode`) the same commands and a cached preview with and
without byte code.

Usage:  .venv/bin/python benchmarks/preview.py [--baseline DIR] [--no-world]
            [--bytecode-venv DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# 30 regions for the "world" fleet, and a template stack (one bucket, edge, transcode).
WORLD_REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1",
    "mx-central-1", "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1",
    "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "il-central-1", "me-south-1",
    "me-central-1", "af-south-1", "ap-south-1", "ap-south-2", "ap-east-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4",
]  # fmt: skip
WORLD_ENVS = ["prod", "canary", "perf", "dr"]
TEMPLATE = "Pulumi.prod-eu-central-1.yaml"

INNER = r"""
import json, resource, sys, time
from pathlib import Path
root = Path(sys.argv[1]); sys.path.insert(0, str(root))
from fleetctl.services import preview as svc
from fleetctl.services.workspace import Workspace
kw = json.loads(sys.argv[2])
ws = Workspace(root)
t0 = time.perf_counter()
run = svc.run_preview(ws, svc.PreviewOptions(**kw))
wall = time.perf_counter() - t0
ru = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
failed = [s.stack for s in run.result.stacks if s.error]
print(json.dumps({
    "wall": wall, "cpu": sum(r.ru_utime + r.ru_stime for r in ru),
    "resources": sum(s.resources for s in run.result.stacks),
    "stacks": len(run.result.stacks), "ran": len(run.ran), "hits": run.cache_hits,
    "program_s": run.stats.get("program_s", 0.0), "preload_s": run.stats.get("preload_s", 0.0),
    "failed": failed,
}))
"""

CLI = r"""
import sys
sys.path.insert(0, sys.argv[1])
sys.argv = ["fleetctl", *sys.argv[2:]]
from fleetctl.cli.main import run
run()
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=b@b.invalid", "-c", "user.name=b", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def world_configs(stacks: Path) -> None:
    """30 regions x 4 envs from one template stack; weights sum to 1 per env."""
    for old in stacks.glob("Pulumi.*-*.yaml"):
        old.unlink()
    template = (REPO / "stacks" / TEMPLATE).read_text()
    sys.path.insert(0, str(REPO))
    from fleetctl.spec.regions import zones_of

    n = len(WORLD_REGIONS)
    for e, env in enumerate(WORLD_ENVS):
        for i, region in enumerate(WORLD_REGIONS):
            text = template.replace("cdn-prod", f"cdn-{env}")
            zones = ", ".join(zones_of(region)[:3])
            text = re.sub(r"zones: \[[^\]]*\]", f"zones: [{zones}]", text, count=1)
            text = text.replace("aws:region: eu-central-1", f"aws:region: {region}")
            text = text.replace("10.21.0.0/16", f"10.{i + 10}.0.0/16")
            target = WORLD_REGIONS[(i + 1) % n]
            text = text.replace(
                "replication_targets: [eu-west-1]", f"replication_targets: [{target}]"
            )
            weight = 1 / n if i else 1 - (n - 1) * round(1 / n, 4)
            text = re.sub(r"traffic_weight: [0-9.]+", f"traffic_weight: {round(weight, 4)}", text)
            text = text.replace("pop: fra", f"pop: p{chr(97 + i % 26)}{chr(97 + e)}")
            (stacks / f"Pulumi.{env}-{region}.yaml").write_text(text)


def make_project(dest: Path, code: Path, fleet: str) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(code / "stacks", dest / "stacks", ignore=ignore)
    shutil.copytree(code / "fleetctl", dest / "fleetctl", ignore=ignore)
    if (code / "policies").is_dir():
        shutil.copytree(code / "policies", dest / "policies", ignore=ignore)
    # The same region table on both sides (the world fleet needs 30 regions).
    shutil.copy(REPO / "fleetctl" / "spec" / "regions.py", dest / "fleetctl/spec/regions.py")
    stacks = dest / "stacks"
    if fleet == "scaled":
        for i in range(5):
            for src in sorted(stacks.glob("Pulumi.prod-*.yaml")):
                dst = src.with_name(src.name.replace("Pulumi.prod-", f"Pulumi.perf{i + 1}-"))
                dst.write_text(src.read_text().replace("cdn-prod", f"cdn-perf{i + 1}"))
    elif fleet == "world":
        world_configs(stacks)
    (dest / ".gitignore").write_text(".fleetctl/\n")
    # One byte-code cache for every copy (same venv): compiled once, not per project.
    shared = dest.parent.parent / "pycache"
    shared.mkdir(exist_ok=True)
    (dest / ".fleetctl" / "cache").mkdir(parents=True)
    (dest / ".fleetctl" / "cache" / "pycache").symlink_to(shared)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "bench")
    return dest


def clear_graphs(root: Path) -> None:
    keep = {"preload.json", "warm.json", "fingerprint.key"}
    for p in (root / ".fleetctl" / "cache" / "preview").glob("*"):
        if p.name not in keep:
            p.unlink()


def preview(root: Path, python: str = sys.executable, **kw: Any) -> dict[str, Any]:
    proc = subprocess.run(
        [python, "-c", INNER, str(root), json.dumps(kw)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"preview failed in {root}:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["failed"]:
        raise SystemExit(f"stacks failed in {root}: {out['failed']}")
    return out


def cli(root: Path, *args: str, python: str = sys.executable) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [python, "-c", CLI, str(root), "--root", str(root), *args],
        capture_output=True,
        check=False,
        cwd=root,
    )
    return time.perf_counter() - t0


def best(n: int, fn: Any) -> Any:
    """The run with the least CPU (or time) of n: the one least disturbed by other load."""
    runs = [fn() for _ in range(n)]
    return min(runs, key=lambda r: r["cpu"] if isinstance(r, dict) else r)


def line(label: str, b: dict[str, Any], a: dict[str, Any]) -> None:
    n = a["resources"]
    print(
        f"{label:<34} before {b['wall']:6.2f}s {b['cpu']:6.2f} cpu-s | after {a['wall']:6.2f}s "
        f"{a['cpu']:6.2f} cpu-s | after/before wall {a['wall'] / b['wall']:.2f} "
        f"cpu {a['cpu'] / b['cpu']:.2f}  ({a['stacks']} stacks, {n} resources)"
    )


def per_resource(label: str, b: dict[str, Any], a: dict[str, Any]) -> None:
    """Program time per resource: the children's own clocks summed over stacks."""
    pb = 1000 * b["program_s"] / max(1, b["resources"])
    pa = 1000 * a["program_s"] / max(1, a["resources"])
    print(
        f"{label:<34} programs {pb:.2f} -> {pa:.2f} ms/resource (ratio {pa / pb:.2f}); "
        f"worker start {b['preload_s']:.2f} -> {a['preload_s']:.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, default=Path("/work/main"))
    ap.add_argument("--no-world", action="store_true", help="skip the 5,000-resource fleet")
    ap.add_argument("--bytecode-venv", type=Path, help="a venv synced with --compile-bytecode")
    ap.add_argument("--cli-only", action="store_true", help="only CLI start-up and byte code")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.2f} at start")
    sides = {"before": args.baseline.resolve(), "after": REPO}
    fleets = (
        ["prod"] if args.cli_only else ["prod", "scaled"] + ([] if args.no_world else ["world"])
    )
    with tempfile.TemporaryDirectory(prefix="fleetctl-bench-") as tmp:
        roots = {
            (side, fleet): make_project(Path(tmp) / side / fleet, code, fleet)
            for side, code in sides.items()
            for fleet in fleets
        }
        # One-time costs first: byte-code of pulumi_aws, learned preload and hints.
        for (side, fleet), root in roots.items():
            t0 = time.perf_counter()
            preview(root, env="prod", use_cache=False)
            print(f"warm-up {side}/{fleet}: {time.perf_counter() - t0:.1f}s (not counted)")

        results: dict[str, dict[str, dict[str, Any]]] = {}
        if args.cli_only:
            startup(roots, args.bytecode_venv)
            return

        def case(name: str, fleet: str, runs: int, prepare: Any = None, **kw: Any) -> None:
            results[name] = {}
            for side in sides:
                root = roots[(side, fleet)]

                def one(root: Path = root) -> dict[str, Any]:
                    if prepare is not None:
                        prepare(root)
                    return preview(root, **kw)

                results[name][side] = best(runs, one)
            line(name, results[name]["before"], results[name]["after"])

        print("\n== cold (no graph cached) and cached")
        case("prod fleet, cold", "prod", 2, clear_graphs, env="prod")
        case("prod fleet, cached", "prod", 3, env="prod")
        case("scaled fleet, cold", "scaled", 1, clear_graphs)
        case("scaled fleet, cached", "scaled", 3)
        if "world" in fleets:
            case("world fleet, cold", "world", 1, clear_graphs)
            case("world fleet, cached", "world", 3)

        print("\n== pull request: one region's config changed, --base HEAD (both sides cold)")
        originals = {}
        for (_side, fleet), root in roots.items():
            if fleet == "prod":
                cfg = root / "stacks" / "Pulumi.prod-eu-west-1.yaml"
                originals[cfg] = cfg.read_text()
                cfg.write_text(re.sub(r"nodes_per_zone: \d+", "nodes_per_zone: 9", originals[cfg]))
        case("PR, one region", "prod", 2, clear_graphs, env="prod", base="HEAD")
        for cfg, text in originals.items():
            cfg.write_text(text)

        print("\n== cost per resource in the programs (children's clocks, summed)")
        for name in ("prod fleet, cold", "scaled fleet, cold", "world fleet, cold"):
            if name in results:
                per_resource(name, results[name]["before"], results[name]["after"])

        print("\n== growth (after): cold time against resources and stacks")
        base_case = results["prod fleet, cold"]["after"]
        for name in ("prod fleet, cold", "scaled fleet, cold", "world fleet, cold"):
            if name in results:
                r = results[name]["after"]
                print(
                    f"{name:<22} {r['stacks']:4d} stacks {r['resources']:5d} resources: "
                    f"{r['wall']:6.2f}s wall {r['cpu']:6.2f} cpu-s; "
                    f"{1000 * r['cpu'] / r['resources']:.2f} cpu-ms/resource, "
                    f"{r['resources'] / r['wall']:.0f} resources/s; "
                    f"x{r['resources'] / base_case['resources']:.1f} "
                    f"resources -> x{r['wall'] / base_case['wall']:.1f} wall, "
                    f"x{r['cpu'] / base_case['cpu']:.1f} cpu"
                )

        startup(roots, args.bytecode_venv)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


def startup(roots: dict[tuple[str, str], Path], bytecode_venv: Path | None) -> None:
    print("\n== CLI start-up (best of 3)")
    for args_ in (("--help",), ("validate",), ("preview", "--env", "prod")):
        b = min(cli(roots[("before", "prod")], *args_) for _ in range(3))
        a = min(cli(roots[("after", "prod")], *args_) for _ in range(3))
        cmd = " ".join(args_)
        print(f"fleetctl {cmd:<20} before {b:.2f}s after {a:.2f}s ratio {a / b:.2f}")
    if bytecode_venv is None:
        return
    py = str(bytecode_venv / "bin" / "python")
    print("\n== byte code (same code, the venv without vs with compiled .pyc; best of 3)")
    for side in ("before", "after"):
        for args_ in (("--help",), ("validate",), ("preview", "--env", "prod")):
            no = min(cli(roots[(side, "prod")], *args_) for _ in range(3))
            yes = min(cli(roots[(side, "prod")], *args_, python=py) for _ in range(3))
            cmd = " ".join(args_)
            print(
                f"{side:<6} fleetctl {cmd:<20} without {no:.2f}s with {yes:.2f}s "
                f"ratio {yes / no:.2f}"
            )


if __name__ == "__main__":
    main()
