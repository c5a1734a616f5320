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
about 5,000 resources); "dense" = the 8 prod stacks with 30 buckets each
(about 2,000 resources in 8 stacks: against "scaled", the same resources in
6x fewer stacks, which separates the cost per stack from the cost per
resource). Cases: cold (no preview graph cached; the worker's byte-code and
learned preload kept, as on a CI runner that restores .fleetctl/cache),
cached, and the pull-request case (one region's config changed, `--base
HEAD`, both sides cold). Each case runs --runs times per side (alternating
sides) and the run with the least CPU counts. Every preview has a time limit
(--timeout), so the whole benchmark ends in bounded time. The end is a table
of every figure and a fit of cold time = fixed + per stack + per resource.
Plus CLI start-up: `--help` and `validate`; with `--bytecode-venv DIR` (a venv
synced with `uv sync --compile-bytecode`) the same commands and a cached
preview with and without byte code.

Usage:  .venv/bin/python benchmarks/preview.py [--baseline DIR] [--no-world]
            [--no-dense] [--runs N] [--timeout S] [--bytecode-venv DIR]
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
    "program_cpu_s": run.stats.get("program_cpu_s"),  # None: a checkout that does not report it
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


def dense_configs(stacks: Path, copies: int = 30) -> None:
    """Each stack's bucket list repeated `copies` times (distinct names): many
    resources in few stacks."""
    for cfg in stacks.glob("Pulumi.*-*.yaml"):
        lines = cfg.read_text().splitlines(keepends=True)
        start = next(i for i, t in enumerate(lines) if t.strip() == "buckets:") + 1
        indent = len(lines[start]) - len(lines[start].lstrip())
        end = start
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent
        ):
            end += 1
        block = "".join(lines[start:end])
        extra = [
            re.sub(r"(- name: )([\w-]+)", rf"\g<1>\g<2>-d{k}", block) for k in range(1, copies)
        ]
        cfg.write_text("".join(lines[:end]) + "".join(extra) + "".join(lines[end:]))


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
    elif fleet == "dense":
        for other in stacks.glob("Pulumi.*-*.yaml"):
            if not other.name.startswith("Pulumi.prod-"):
                other.unlink()
        dense_configs(stacks)
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


TIMEOUT = 600.0  # seconds for one preview (--timeout): the benchmark ends in bounded time


def preview(root: Path, python: str = sys.executable, **kw: Any) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [python, "-c", INNER, str(root), json.dumps(kw)],
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"preview in {root} ({kw}) took more than {TIMEOUT:.0f} s") from None
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


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure at its best over the runs (least wall, least CPU, ...): the runs
    least disturbed by other load. `load` is the load average after the last run."""
    out = dict(min(runs, key=lambda r: r["cpu"]))
    for k in ("wall", "cpu", "program_s", "preload_s"):
        out[k] = min(r[k] for r in runs)
    cpus = [r["program_cpu_s"] for r in runs if r.get("program_cpu_s") is not None]
    out["program_cpu_s"] = min(cpus) if cpus else None
    out["load"] = os.getloadavg()[0]
    return out


def line(label: str, b: dict[str, Any], a: dict[str, Any]) -> None:
    n = a["resources"]
    print(
        f"{label:<34} before {b['wall']:6.2f}s {b['cpu']:6.2f} cpu-s | after {a['wall']:6.2f}s "
        f"{a['cpu']:6.2f} cpu-s | after/before wall {a['wall'] / b['wall']:.2f} "
        f"cpu {a['cpu'] / b['cpu']:.2f}  ({a['stacks']} stacks, {n} resources)"
    )


def per_resource(label: str, b: dict[str, Any], a: dict[str, Any]) -> None:
    """Program time per resource: the children's own clocks summed over stacks (wall:
    includes waiting for a core under load; CPU where the checkout reports it)."""
    pb = 1000 * b["program_s"] / max(1, b["resources"])
    pa = 1000 * a["program_s"] / max(1, a["resources"])

    def cpu(r: dict[str, Any]) -> str:
        c = r.get("program_cpu_s")
        return "-" if c is None else f"{1000 * c / max(1, r['resources']):.2f}"

    print(
        f"{label:<34} programs {pb:.2f} -> {pa:.2f} wall-ms/resource (ratio {pa / pb:.2f}), "
        f"{cpu(b)} -> {cpu(a)} cpu-ms/resource; "
        f"worker start {b['preload_s']:.2f} -> {a['preload_s']:.2f} s"
    )


FLEETS = ("prod", "scaled", "dense", "world")
CHANGED = "Pulumi.prod-eu-west-1.yaml"  # the PR case's region (in every fleet)


def pr_change(root: Path) -> str:
    """One region's config changed in the working tree; returns the old text."""
    cfg = root / "stacks" / CHANGED
    old = cfg.read_text()
    cfg.write_text(re.sub(r"nodes_per_zone: \d+", "nodes_per_zone: 9", old))
    return old


def main() -> None:
    global TIMEOUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, default=Path("/work/main"))
    ap.add_argument("--no-world", action="store_true", help="skip the 5,000-resource fleet")
    ap.add_argument("--no-dense", action="store_true", help="skip the 8-stack dense fleet")
    ap.add_argument("--runs", type=int, default=2, help="runs per case and side (best counts)")
    ap.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds for one preview")
    ap.add_argument("--bytecode-venv", type=Path, help="a venv synced with --compile-bytecode")
    ap.add_argument("--cli-only", action="store_true", help="only CLI start-up and byte code")
    args = ap.parse_args()
    TIMEOUT = args.timeout
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.2f} at start")
    sides = {"before": args.baseline.resolve(), "after": REPO}
    skip = {"world"} if args.no_world else set()
    skip |= {"dense"} if args.no_dense else set()
    fleets = ["prod"] if args.cli_only else [f for f in FLEETS if f not in skip]
    started = time.perf_counter()
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

        results: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        if args.cli_only:
            startup(roots, args.bytecode_venv)
            return

        def case(what: str, fleet: str, runs: int, prepare: Any = None, **kw: Any) -> None:
            """Sides alternate run by run; per side the run with the least CPU counts."""
            got: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
            for _ in range(runs):
                for side in sides:
                    root = roots[(side, fleet)]
                    if prepare is not None:
                        prepare(root)
                    got[side].append(preview(root, **kw))
            results[(fleet, what)] = {side: best(rs) for side, rs in got.items()}
            line(f"{fleet} fleet, {what}", *results[(fleet, what)].values())

        print(
            f"\n== cold (no graph cached), cached, PR (one region changed, --base HEAD)"
            f"; best of {args.runs} (cached: best of {args.runs + 1})"
        )
        for fleet in fleets:
            case("cold", fleet, args.runs, clear_graphs)
            case("cached", fleet, args.runs + 1)
            originals = {roots[(side, fleet)]: pr_change(roots[(side, fleet)]) for side in sides}
            try:
                case("PR", fleet, args.runs, clear_graphs, base="HEAD")
            finally:
                for root, text in originals.items():
                    (root / "stacks" / CHANGED).write_text(text)

        print("\n== cost per resource in the programs (children's clocks, summed)")
        for fleet in fleets:
            per_resource(f"{fleet} fleet, cold", *results[(fleet, "cold")].values())

        table(fleets, results)
        growth(fleets, results)
        startup(roots, args.bytecode_venv)
    print(
        f"\nload average {os.getloadavg()[0]:.2f} at the end; "
        f"benchmark took {time.perf_counter() - started:.0f} s"
    )


def table(fleets: list[str], results: dict[tuple[str, str], dict[str, dict[str, Any]]]) -> None:
    """Every figure in one table: before -> after (after/before), wall then CPU."""
    cols = ("cold", "cached", "PR")
    for what, unit in (("wall", "wall seconds"), ("cpu", "CPU seconds of the process tree")):
        print(f"\n== summary: {unit}, before -> after (ratio); best of the runs")
        head = f"{'fleet':<7}{'stacks':>7}{'resources':>10}"
        print(head + "".join(f"  {c:>22}" for c in cols) + f"  {'load':>5}")
        for fleet in fleets:
            a = results[(fleet, "cold")]["after"]
            row = f"{fleet:<7}{a['stacks']:>7}{a['resources']:>10}"
            for c in cols:
                b_, a_ = results[(fleet, c)]["before"][what], results[(fleet, c)]["after"][what]
                row += f"  {b_:6.2f} -> {a_:6.2f} ({a_ / b_:.2f})"
            print(row + f"  {a['load']:5.1f}")


def growth(fleets: list[str], results: dict[tuple[str, str], dict[str, dict[str, Any]]]) -> None:
    """How cold time grows: least squares of time = fixed + a * stacks + b * resources.

    "scaled" and "dense" have about the same resources in 49 vs 8 stacks, so
    the per-stack and per-resource terms are told apart.
    """
    print("\n== growth of cold time (after)")
    base_r = results[(fleets[0], "cold")]["after"]
    for fleet in fleets:
        r = results[(fleet, "cold")]["after"]
        print(
            f"{fleet:<7} {r['stacks']:4d} stacks {r['resources']:5d} resources: "
            f"{r['wall']:6.2f}s wall {r['cpu']:6.2f} cpu-s, "
            f"{r['resources'] / r['wall']:5.0f} resources/s; against {fleets[0]}: "
            f"x{r['resources'] / base_r['resources']:.1f} resources, "
            f"x{r['stacks'] / base_r['stacks']:.1f} stacks -> "
            f"x{r['wall'] / base_r['wall']:.1f} wall, x{r['cpu'] / base_r['cpu']:.1f} cpu"
        )
    if len(fleets) < 3:
        return
    # Under load the wall fit is noise (children wait for a core); the CPU fits are not.
    for side in ("before", "after"):
        rows = [results[(f, "cold")][side] for f in fleets]
        whats = ["wall", "cpu"]
        if all(r.get("program_cpu_s") is not None for r in rows):
            whats.append("program_cpu_s")  # the children alone: the programs' own cost
        for what in whats:
            fixed, per_stack, per_res = _fit(
                [(1.0, float(r["stacks"]), float(r["resources"])) for r in rows],
                [float(r[what]) for r in rows],
            )
            unit = "s" if what == "wall" else "cpu-s"
            print(
                f"fit {side:<6} {what:<13}: {fixed:5.2f} {unit} + {1000 * per_stack:6.1f} ms "
                f"per stack + {1000 * per_res:5.2f} ms per resource"
            )


def _fit(xs: list[tuple[float, float, float]], ys: list[float]) -> tuple[float, float, float]:
    """Ordinary least squares for three unknowns (normal equations, Cramer's rule)."""
    m = [[sum(x[i] * x[j] for x in xs) for j in range(3)] for i in range(3)]
    v = [sum(x[i] * y for x, y in zip(xs, ys, strict=True)) for i in range(3)]

    def det(a: list[list[float]]) -> float:
        return (
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        )

    d = det(m)
    if abs(d) < 1e-9:
        return (0.0, 0.0, 0.0)
    out = []
    for k in range(3):
        mk = [[v[i] if j == k else m[i][j] for j in range(3)] for i in range(3)]
        out.append(det(mk) / d)
    return out[0], out[1], out[2]


def startup(roots: dict[tuple[str, str], Path], bytecode_venv: Path | None) -> None:
    print("\n== CLI start-up (best of 5, sides alternating)")
    for args_ in (("--help",), ("validate",), ("preview", "--env", "prod")):
        runs = [
            (cli(roots[("before", "prod")], *args_), cli(roots[("after", "prod")], *args_))
            for _ in range(5)
        ]
        b, a = min(r[0] for r in runs), min(r[1] for r in runs)
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
