"""Run a playbook through ansible-runner, with the known traps guarded.

- a fresh private data dir per run and `suppress_env_files=True`, so a
  `--check` never leaks into the next run;
- absolute inventory paths (ansible-runner reads a relative one as inventory text);
- cancel and timeout kill every process of the run: each run tags its
  processes with FLEETCTL_RUN_ID in their environment, and the cancel
  callback kills all of them (the workers live in their own sessions, so
  killing the process group alone leaves them running);
- SIGINT/SIGTERM handlers are restored after `run()`;
- extra vars never go on a command line (readable by every local user in
  /proc for the whole run, and recorded in ansible-runner's
  `artifacts/*/command`): they are written to `env/extravars` (mode 0600) in
  the run's private dir (0700), which ansible-runner hands to Ansible as
  `-e @FILE`. The file is removed as soon as the playbook has started (Ansible
  reads extra vars once, at start-up), the private dir after the run, and the
  private dirs of runs whose process died (`kill -9`) at the next run;
- per-host results come from runner events (stats + task events), not from
  the overall status.

Speed: pipelining, SSH ControlPersist, no fact gathering unless a play asks,
forks = 2 x cores, and mitogen's `mitogen_linear` strategy when it is installed
and supports the installed ansible-core (else `linear`, with a one-line notice).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from fleetctl.adapters import procs
from fleetctl.adapters.ansible_hosts import inventory_env
from fleetctl.core.ansible_result import (
    HostOutcome,
    PlaybookResult,
    RunStatus,
    outcomes_from_events,
)
from fleetctl.errors import BadInput, OutsideError

Strategy = Literal["auto", "linear", "mitogen"]
EventHandler = Callable[[dict[str, Any]], None]

__all__ = [
    "HostOutcome",
    "PlaybookResult",
    "RunStatus",
    "default_forks",
    "mitogen_status",
    "run_playbook",
    "speed_env",
]

_mitogen_cache: tuple[str | None, str] | None = None


def default_forks() -> int:
    return 2 * (os.cpu_count() or 1)


def mitogen_status() -> tuple[str | None, str]:
    """(strategy plugin dir, "") when mitogen can be used, else (None, why not)."""
    global _mitogen_cache
    if _mitogen_cache is not None:
        return _mitogen_cache
    try:
        import importlib.util

        spec = importlib.util.find_spec("ansible_mitogen")
        if spec is None or spec.origin is None:
            _mitogen_cache = (None, "mitogen is not installed")
            return _mitogen_cache
        plugin_dir = Path(spec.origin).parent / "plugins" / "strategy"
        from ansible.release import __version__ as ansible_version

        major_minor = tuple(int(x) for x in ansible_version.split(".")[:2])
        # mitogen 0.3.x supports ansible-core up to the 2.19 line (its changelog);
        # anything newer is untested, so do not use it silently.
        if major_minor > (2, 19) or not (plugin_dir / "mitogen_linear.py").is_file():
            _mitogen_cache = (None, f"mitogen does not support ansible-core {ansible_version}")
        else:
            _mitogen_cache = (str(plugin_dir), "")
    except Exception as exc:  # a broken install must not break apply
        _mitogen_cache = (None, f"mitogen unusable: {exc}")
    return _mitogen_cache


def speed_env(forks: int | None = None) -> dict[str, str]:
    """Ansible settings fleetctl applies to every run (also used by the benchmark)."""
    return {
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=120s",
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_FORKS": str(forks or default_forks()),
        "ANSIBLE_TIMEOUT": "10",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_SYSTEM_WARNINGS": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
    }


def _resolve_strategy(strategy: Strategy) -> tuple[str, dict[str, str], list[str]]:
    if strategy == "linear":
        return "linear", {"ANSIBLE_STRATEGY": "linear"}, []
    plugin_dir, why = mitogen_status()
    if plugin_dir is None:
        if strategy == "mitogen":
            raise BadInput(f"--strategy mitogen is not available: {why}")
        return "linear", {"ANSIBLE_STRATEGY": "linear"}, [f"{why}; using the linear strategy"]
    return (
        "mitogen_linear",
        {"ANSIBLE_STRATEGY_PLUGINS": plugin_dir, "ANSIBLE_STRATEGY": "mitogen_linear"},
        [],
    )


def _write_private(path: Path, text: str) -> None:
    """A new file only its owner can read, whatever the umask."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


class _Collector:
    """Turns runner events into per-host outcomes, and forwards them."""

    def __init__(self, on_event: EventHandler | None, forget: Path | None = None) -> None:
        self.on_event = on_event
        self.forget = forget  # removed once the playbook has started
        self.stats: dict[str, dict[str, int]] | None = None
        self.changed: dict[str, list[str]] = {}
        self.failed: dict[str, list[str]] = {}
        self.seen: dict[str, dict[str, int]] = {}
        self.diffs: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def _count(self, host: str, key: str) -> None:
        c = self.seen.setdefault(
            host, {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0}
        )
        c[key] += 1

    def __call__(self, event: dict[str, Any]) -> bool:
        name = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host") or ""
        task = str(data.get("task") or "")
        res = data.get("res") or {}
        if name == "playbook_on_start" and self.forget is not None:
            self.forget.unlink(missing_ok=True)  # Ansible has read its extra vars
            self.forget = None
        with self.lock:
            if name == "runner_on_ok" and host:
                self._count(host, "ok")
                if res.get("changed"):
                    self._count(host, "changed")
                    self.changed.setdefault(host, []).append(task)
                    text = _diff_text(res.get("diff"), task)
                    if text:
                        self.diffs.setdefault(host, []).append(text)
            elif name == "runner_on_failed" and host:
                if data.get("ignore_errors"):
                    self._count(host, "ok")
                else:
                    self._count(host, "failed")
                    self.failed.setdefault(host, []).append(f"{task}: {_msg(res)}")
            elif name == "runner_on_unreachable" and host:
                self._count(host, "unreachable")
                self.failed.setdefault(host, []).append(f"{task}: {_msg(res)}")
            elif name == "runner_on_skipped" and host:
                self._count(host, "skipped")
            elif name == "playbook_on_stats":
                self.stats = {
                    k: dict(data.get(k) or {})
                    for k in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
                }
        if self.on_event is not None:
            with contextlib.suppress(Exception):  # a display bug must not break the run
                self.on_event(event)
        return False  # do not keep event files around beyond the run


def _diff_text(diff: Any, task: str) -> str:
    """Ansible's diff result (before/after pairs) as a unified diff."""
    import difflib

    chunks = diff if isinstance(diff, list) else [diff] if isinstance(diff, dict) else []
    out: list[str] = []
    for d in chunks:
        if not isinstance(d, Mapping):
            continue
        if "prepared" in d:
            out.append(str(d["prepared"]))
            continue
        before, after = d.get("before", ""), d.get("after", "")
        if not isinstance(before, str) or not isinstance(after, str):
            before, after = repr(before), repr(after)
        if before == after:
            continue
        out.extend(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=str(d.get("before_header") or task),
                tofile=str(d.get("after_header") or task),
            )
        )
    return "".join(out)


def _msg(res: Mapping[str, Any]) -> str:
    for item in res.get("results") or []:  # a loop: the first item that went wrong
        if isinstance(item, Mapping) and (item.get("failed") or item.get("unreachable")):
            return _msg(item)
    msg = res.get("msg") or res.get("reason") or ""
    stderr = str(res.get("stderr") or "").strip()
    if stderr and stderr not in str(msg):
        msg = f"{msg}: {stderr}" if msg else stderr
    if not msg and res.get("rc") is not None:
        msg = f"rc={res.get('rc')}"
    text = str(msg).strip().replace("\n", " ")
    return text[:400]


def run_playbook(
    playbook: Path,
    inventory: Path | str,
    *,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    forks: int | None = None,
    extravars: dict[str, Any] | None = None,
    strategy: Strategy = "auto",
    timeout_s: float | None = None,
    cancel: Callable[[], bool] | None = None,
    on_event: EventHandler | None = None,
    env: Mapping[str, str] | None = None,
) -> PlaybookResult:
    """Run one playbook and return per-host outcomes.

    `inventory`: a path (made absolute here) or a comma list of hosts.
    `cancel`: polled about twice a second; True stops the run (status canceled).
    `timeout_s`: stop the run after this long (status timeout).
    `on_event`: called with each ansible-runner event dict (for live progress).
    `env`: extra environment for Ansible (overrides fleetctl's speed settings).
    With strategy "auto", a mitogen run that cannot start at all (no host
    reached the first task) is retried once with the linear strategy.
    """
    kwargs: dict[str, Any] = {
        "limit": limit,
        "check": check,
        "diff": diff,
        "forks": forks,
        "extravars": extravars,
        "timeout_s": timeout_s,
        "cancel": cancel,
        "on_event": on_event,
        "env": env,
    }
    result = _run_once(playbook, inventory, strategy=strategy, **kwargs)
    if strategy == "auto" and result.strategy != "linear" and result.status is RunStatus.error:
        retry = _run_once(playbook, inventory, strategy="linear", **kwargs)
        if retry.status is not RunStatus.error:
            why = (result.error or "it failed to start").splitlines()[0][:200]
            notice = f"mitogen could not run ({why}); used the linear strategy"
            return dataclasses.replace(retry, notices=(*retry.notices, notice))
    return result


def _run_once(
    playbook: Path,
    inventory: Path | str,
    *,
    limit: str | None,
    check: bool,
    diff: bool,
    forks: int | None,
    extravars: dict[str, Any] | None,
    strategy: Strategy,
    timeout_s: float | None,
    cancel: Callable[[], bool] | None,
    on_event: EventHandler | None,
    env: Mapping[str, str] | None,
) -> PlaybookResult:
    import ansible_runner

    playbook = Path(playbook).resolve()
    if not playbook.is_file():
        raise BadInput(f"no such playbook: {playbook}")
    inv: str
    if isinstance(inventory, Path) or (isinstance(inventory, str) and "," not in inventory):
        inv_path = Path(inventory).resolve()
        if not inv_path.exists():
            raise BadInput(f"no such inventory: {inv_path}")
        inv = str(inv_path)
    else:
        inv = inventory
    strategy_name, strategy_env, notices = _resolve_strategy(strategy)

    run_id = uuid.uuid4().hex
    envvars = {
        **speed_env(forks),
        **strategy_env,
        "FLEETCTL_RUN_ID": run_id,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(playbook.parent / "roles"),
        # an inventory that fails to parse stops the run (not "no hosts matched")
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true",
        **inventory_env(),
    }
    if env:
        envvars.update(env)
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")

    # named after this process, so a later run sweeps it after a kill -9
    procs.sweep_dead_temp_dirs("ansible")
    data_dir = str(procs.private_temp_dir("ansible"))
    vars_file = Path(data_dir) / "env" / "extravars"
    collector = _Collector(on_event, forget=vars_file if extravars else None)
    state = {"why": ""}
    start = time.monotonic()
    deadline = start + timeout_s if timeout_s else None

    def cancel_callback() -> bool:
        why = ""
        if deadline is not None and time.monotonic() > deadline:
            why = "timeout"
        elif cancel is not None and cancel():
            why = "canceled"
        if not why:
            return False
        state["why"] = why
        # the run's workers sit in their own sessions: kill them all by tag
        procs.kill(procs.with_environ("FLEETCTL_RUN_ID", run_id))
        return True

    # ansible-runner installs its handlers only in the main thread (a Temporal
    # worker runs playbooks in activity threads): restore only what it may change
    main = threading.current_thread() is threading.main_thread()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    stdout_tail: tuple[str, ...] = ()
    try:
        if extravars:
            _write_private(vars_file, json.dumps(dict(extravars)))
        kwargs: dict[str, Any] = {
            "private_data_dir": data_dir,
            "playbook": str(playbook),
            "inventory": inv,
            "envvars": envvars,
            "limit": limit,
            "forks": forks or default_forks(),
            "cmdline": " ".join(cmdline) or None,
            "event_handler": collector,
            "cancel_callback": cancel_callback,
            "suppress_env_files": True,
            "quiet": True,
            "settings": {"pexpect_timeout": 0.5, "suppress_ansible_output": True},
        }
        try:
            runner = ansible_runner.run(**{k: v for k, v in kwargs.items() if v is not None})
        except Exception as exc:
            raise OutsideError(f"ansible-runner failed to start: {exc}") from exc
        try:
            text = runner.stdout.read() if runner.stdout else ""
            stdout_tail = tuple(line for line in text.splitlines()[-30:])
        except Exception:
            stdout_tail = ()
        rc = int(runner.rc if runner.rc is not None else -1)
        runner_status = str(runner.status)
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)
        # leftovers of a canceled run (workers that outlived the kill)
        if state["why"]:
            procs.kill(procs.with_environ("FLEETCTL_RUN_ID", run_id))
        shutil.rmtree(data_dir, ignore_errors=True)
    duration = time.monotonic() - start

    hosts = outcomes_from_events(
        collector.stats, collector.changed, collector.failed, collector.seen, collector.diffs
    )
    error = ""
    if state["why"] == "timeout":
        status = RunStatus.timeout
    elif state["why"] == "canceled":
        status = RunStatus.canceled
    elif rc == 0 and runner_status == "successful":
        status = RunStatus.successful
    elif collector.stats is None and not hosts:
        status = RunStatus.error
        error = _error_from(stdout_tail) or f"ansible-playbook exited with rc={rc}"
    else:
        status = RunStatus.failed
    return PlaybookResult(
        status=status,
        rc=rc,
        hosts=hosts,
        duration_s=duration,
        playbook=str(playbook),
        strategy=strategy_name,
        check=check,
        notices=tuple(notices),
        error=error,
        run_id=run_id,
        stdout_tail=stdout_tail,
    )


def _error_from(lines: tuple[str, ...]) -> str:
    for i, line in enumerate(lines):
        if line.startswith("ERROR!") or line.startswith("[ERROR]"):
            return " ".join(x.strip() for x in lines[i : i + 4] if x.strip())[:600]
    return ""
