"""Benchmark: `fleetctl apply site` vs plain `ansible-playbook` on the same lab hosts.

Brings up its own lab (temp dir, free loopback block), configures it once, then
runs the unchanged fleet (a steady-state re-run, 0 changed) in rounds, the
variants alternating so load drift hits all of them alike:

  fleetctl      `fleetctl apply site --env lab` (its defaults: tuned + mitogen)
  plain         `ansible-playbook site.yml` with Ansible's defaults
  tuned         `ansible-playbook` + pipelining, ControlPersist, forks 2 x cores (linear)
  same          `ansible-playbook` with exactly fleetctl's settings (tuned + mitogen)

Prints medians, per-host time and the ratios: plain/fleetctl (target >= 4)
and fleetctl/same (fleetctl's own overhead, target <= 1.10).

    python benchmarks/apply.py [--hosts 6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleetctl.adapters.ansible import mitogen_status, speed_env  # noqa: E402
from fleetctl.services import lab as lab_service  # noqa: E402
from tests.lab_fixture import free_subnet  # noqa: E402

BIN = Path(sys.executable).parent


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_DEPRECATION_WARNINGS"] = "False"
    return env


def variants(lab_dir: Path, inventory: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    site = str(REPO / "playbooks" / "site.yml")
    base = _clean_env()
    tuned = {**base, **speed_env(), "ANSIBLE_STRATEGY": "linear"}
    plugin_dir, _ = mitogen_status()
    same = {**base, **speed_env()}
    if plugin_dir:
        same.update({"ANSIBLE_STRATEGY_PLUGINS": plugin_dir, "ANSIBLE_STRATEGY": "mitogen_linear"})
    playbook = [str(BIN / "ansible-playbook"), "-i", str(inventory), site]
    return {
        "fleetctl": (
            [
                str(BIN / "fleetctl"),
                "--root",
                str(REPO),
                "apply",
                "site",
                "--env",
                "lab",
                "--lab-dir",
                str(lab_dir),
                "--format",
                "json",
            ],
            base,
        ),
        "plain": (playbook, base),
        "tuned": (playbook, tuned),
        "same": (playbook, same),
    }


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
        raise SystemExit(f"benchmark run failed: {' '.join(cmd[:3])} rc={proc.returncode}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fl-bench-"))
    lab_dir = tmp / "lab"
    try:
        t0 = time.perf_counter()
        lab = lab_service.lab_up(
            args.hosts,
            lab_dir=lab_dir,
            playbooks_dir=REPO / "playbooks",
            subnet=free_subnet(first=78),
        )
        print(f"lab up ({args.hosts} hosts, first site.yml run): {time.perf_counter() - t0:.1f}s")
        runs = variants(lab_dir, Path(lab.inventory))
        names = list(runs)
        times: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                cmd, env = runs[name]
                took = timed(cmd, env)
                times[name].append(took)
                print(f"  round {r + 1} {name:<9} {took:6.1f}s", flush=True)
        med = {n: statistics.median(v) for n, v in times.items()}
        print(f"\nsite.yml on {args.hosts} lab hosts over SSH, median of {args.rounds}:")
        for n in names:
            print(f"  {n:<9} {med[n]:6.1f}s   {med[n] / args.hosts:5.2f}s per host")
        print(f"\n  plain / fleetctl  = {med['plain'] / med['fleetctl']:.2f}x   (target >= 4)")
        print(f"  tuned / fleetctl  = {med['tuned'] / med['fleetctl']:.2f}x")
        print(f"  fleetctl / same   = {med['fleetctl'] / med['same']:.2f}    (target <= 1.10)")
    finally:
        lab_service.lab_down(lab_dir)
        if tmp.exists():
            tmp.rmdir()


if __name__ == "__main__":
    main()
