"""Worker: run Pulumi programs under the SDK's mock runtime, one process per stack.

Run as a script by path (``python .../pulumi_preview_worker.py``), never as
``-m fleetctl...``: the base side of a diff must import the `fleetctl.spec` of
the base checkout, so this file imports nothing from fleetctl and puts the
side's root first on ``sys.path`` in each child.

Protocol: two JSON documents on stdin. The first line comes as soon as the
worker starts, so its imports overlap the caller's own preparation::

    {"preload": [module, ...], "hints": ["module:Class", ...]}

then the jobs (end of input instead: nothing to run, exit)::

    {"jobs": [{"id", "root", "stacks_dir", "program", "project", "stack",
               "config": {key: value | {"secure": ciphertext}}, "out", "log",
               "warm": [project module, ...]}],
     "parallel": N, "key": "<hex fingerprint key>", "timeout": seconds}

The worker imports pulumi and pulumi_aws once, then forks one child per job
(at most N at a time): every stack runs in a fresh process with pristine SDK
module state but without paying the imports again. Before forking it also
does, once, the work every child would otherwise repeat: the SDK's type-hint
resolution of the classes programs used last time (`hints`) and - per
checkout root, in a fork of its own - the project modules the program
imports (`warm`: fleetctl.spec builds its pydantic models at import). The
per-resource stack traces the SDK takes for source positions (file reads)
are skipped: the mock monitor does not use them. A child writes its graph
(or error) as JSON to ``job["out"]``; its stdout/stderr (SDK deprecation
warnings, program prints) go to ``job["log"]``. The worker prints one JSON
line per finished job on stdout: ``{"id": ..., "rc": ...}``.

Secrets never leave a child: secret values are replaced by a keyed
fingerprint (HMAC-SHA256) before anything is written; `secure:` config values
are never decrypted - the program gets a placeholder derived from a keyed
hash of the ciphertext, marked secret.
"""

from __future__ import annotations

import concurrent.futures
import gc
import hashlib
import hmac
import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

_SECRET_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_VAL = "1b47061264138c4ac30d75fd1eb44270"
_UNKNOWN_STR = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

DEFAULT_PRELOAD = [
    "pulumi",
    "pulumi_aws",
    "pulumi_aws.ec2",
    "pulumi_aws.s3",
    "pulumi_aws.iam",
    "pulumi_aws.autoscaling",
    "pulumi_aws.sqs",
    "pulumi_aws.ssm",
    "pulumi_aws.vpc",
]


# --- values -----------------------------------------------------------------------------


def fingerprint(key: bytes, value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, blob.encode(), hashlib.sha256).hexdigest()[:32]


_SEEN_SECRETS: set[str] = set()


def _remember_secret(value: Any) -> None:
    """Keep secret plaintexts seen in this child, to scrub them from errors and logs."""
    if isinstance(value, str) and len(value) >= 4:
        _SEEN_SECRETS.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _remember_secret(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _remember_secret(v)


def redact(text: str) -> str:
    for secret in sorted(_SEEN_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    return text


def encode(value: Any, key: bytes) -> Any:
    """SDK input value -> JSON with sentinels; secrets become fingerprints."""
    from pulumi.output import Unknown

    if isinstance(value, Unknown) or value == _UNKNOWN_STR:
        return {"$unknown": True}
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VAL:
            _remember_secret(value.get("value"))
            inner = encode(value.get("value"), key)
            if inner == {"$unknown": True}:
                return inner
            return {"$secret": fingerprint(key, inner)}
        # Sorted: inputs arrive through a protobuf Struct, whose map order varies from
        # process to process; the same program must give the same bytes every time.
        return {str(k): encode(v, key) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [encode(v, key) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    urn = getattr(value, "urn", None)
    if urn is not None:  # a resource reference
        return {"$resource": type(value).__name__}
    path = getattr(value, "path", None) or getattr(value, "text", None)
    if path is not None:  # an Asset / Archive
        return {"$asset": fingerprint(key, str(path))}
    return str(value)


def config_for_program(config: dict[str, Any], key: bytes) -> tuple[dict[str, str], list[str]]:
    """Stack config -> (PULUMI_CONFIG-style strings, secret keys)."""
    out: dict[str, str] = {}
    secrets: list[str] = []
    for k, v in config.items():
        if isinstance(v, dict) and set(v) == {"secure"}:
            out[k] = "secret-" + fingerprint(key, {"ciphertext": v["secure"]})[:24]
            secrets.append(k)
        elif isinstance(v, str):
            out[k] = v
        else:
            out[k] = json.dumps(v)
    return out, secrets


# --- URNs the way the engine builds them -------------------------------------------------


def qualified_type(urn: str) -> str:
    return urn.split("::")[2] if urn.count("::") >= 3 else ""


def make_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    qtype = type_
    if parent:
        parent_q = qualified_type(parent)
        if parent_q and parent_q.split("$")[-1] != ROOT_STACK_TYPE:
            qtype = f"{parent_q}${type_}"
    return f"urn:pulumi:{stack}::{project}::{qtype}::{name}"


# --- the child ---------------------------------------------------------------------------


def _where(exc: BaseException, stacks_dir: Path) -> tuple[str | None, int | None]:
    """The innermost frame in stacks/ (following causes), as (relative file, line)."""
    found: tuple[str | None, int | None] = (None, None)
    seen: set[int] = set()
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    root = stacks_dir.resolve()
    for e in reversed(chain):
        for frame in traceback.extract_tb(e.__traceback__):
            try:
                p = Path(frame.filename).resolve()
            except OSError:
                continue
            if p.is_relative_to(root):
                rel = Path("stacks") / p.relative_to(root)
                found = (str(rel), frame.lineno)
    return found


def run_job(job: dict[str, Any], key: bytes, timeout: float) -> dict[str, Any]:
    import pulumi
    from pulumi.runtime import mocks as pm
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    stack, project = job["stack"], job["project"]
    stacks_dir = Path(job["stacks_dir"])
    region = str(job["config"].get("aws:region", "us-east-1"))
    records: list[dict[str, Any]] = []
    created = _record_creation_order()

    class FleetMocks(pm.Mocks):
        def new_resource(self, args: pm.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            # Preview: ids and outputs the cloud computes stay unknown; inputs echo.
            return "", dict(args.inputs)

        def call(self, args: pm.MockCallArgs) -> Any:
            return mock_invoke(args.token, dict(args.args), region)

    class RecordingMonitor(pm.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            from pulumi.runtime import rpc

            urn = make_urn(stack, project, request.parent, request.type, request.name)
            response = super().RegisterResource(request)
            response.urn = urn
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            aliases = [a for a in request.aliasURNs]
            for alias in request.aliases:
                if alias.urn:
                    aliases.append(alias.urn)
                elif alias.HasField("spec"):
                    spec = alias.spec
                    parent = "" if spec.noParent else (spec.parentUrn or request.parent)
                    aliases.append(
                        make_urn(
                            spec.stack or stack,
                            spec.project or project,
                            parent,
                            spec.type or request.type,
                            spec.name or request.name,
                        )
                    )
            records.append(
                {
                    "seq": created.pop(request.type, request.name),
                    "urn": urn,
                    "type": request.type,
                    "name": request.name,
                    "parent": request.parent or None,
                    "custom": bool(request.custom),
                    "inputs": encode(inputs, key),
                    "deps": sorted(set(request.dependencies)),
                    "property_deps": {
                        k: sorted(set(v.urns))
                        for k, v in sorted(request.propertyDependencies.items())
                    },
                    "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
                    "protect": bool(request.protect),
                    "ignore_changes": list(request.ignoreChanges),
                    "replace_on_changes": list(request.replaceOnChanges),
                    "delete_before_replace": bool(request.deleteBeforeReplace),
                    "retain_on_delete": bool(request.retainOnDelete),
                    "aliases": sorted(set(aliases) - {urn}),
                }
            )
            return response

    config, secret_keys = config_for_program(job["config"], key)
    os.chdir(stacks_dir)
    sys.path[:0] = [str(stacks_dir), str(job["root"])]
    pulumi.runtime.set_all_config(config, secret_keys)
    _inline_event_loop()
    mocks = FleetMocks()
    pm.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=RecordingMonitor(mocks))
    program = stacks_dir / job.get("program", "__main__.py")

    def _alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the program did not finish within {timeout:.0f} s")

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _sync_await(run_pulumi_func(lambda: _run_program(program)))
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        file, line = _where(exc, stacks_dir)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if not isinstance(exc, (ValueError, TypeError)) or type(exc).__module__ != "builtins":
            message = f"{type(exc).__name__}: {message}"
        details = [str(d) for d in getattr(exc, "details", None) or []]
        return {
            "stack": stack,
            "project": project,
            "error": {"message": message, "file": file, "line": line, "details": details},
        }
    signal.setitimer(signal.ITIMER_REAL, 0)
    # Registration order = the order the program created its resources; the
    # monitor sees them in the order its calls happened to arrive.
    records.sort(key=lambda r: r.pop("seq"))
    return {
        "stack": stack,
        "project": project,
        "resources": records,
    }


class _CreationOrder:
    """The order in which the program created its resources, by (type, name).

    The SDK registers a resource from its constructor, but the monitor call
    happens later, when the resource's inputs and parent are resolved: calls
    for siblings arrive in an order that depends on timing, and so did the
    order of the preview's changes (siblings are listed in registration
    order). Creation order is the program's own, the same on every run.
    """

    def __init__(self) -> None:
        self.next = 0
        self.seen: dict[tuple[str, str], list[int]] = {}

    def add(self, type_: str, name: str) -> None:
        self.seen.setdefault((type_, name), []).append(self.next)
        self.next += 1

    def pop(self, type_: str, name: str) -> int:
        queue = self.seen.get((type_, name))
        if queue:
            return queue.pop(0)
        self.next += 1  # not seen created (another SDK path): after the rest, as it came
        return 1_000_000 + self.next


def _record_creation_order() -> _CreationOrder:
    from pulumi import resource as sdk_resource

    order = _CreationOrder()
    register = sdk_resource.register_resource  # type: ignore[attr-defined]

    def recording(res: Any, ty: str, name: str, *args: Any, **kwargs: Any) -> Any:
        order.add(ty, name)
        return register(res, ty, name, *args, **kwargs)

    sdk_resource.register_resource = recording  # type: ignore[attr-defined]
    return order


def _inline_event_loop() -> None:
    """A fresh event loop whose thread pool has one thread.

    The SDK hands every monitor call (register a resource, ...) to the loop's
    thread pool, because a real monitor is a gRPC server. Ours is the
    in-process mock, a few Python statements under the GIL: more threads only
    add start-ups and switches. (Running the calls inline, without a thread,
    saved ~5-8% CPU per small stack but a stack of 3,000 resources created in a
    loop then did not finish in 100 s; one thread takes 3.4 s.)
    """
    import asyncio

    loop = asyncio.new_event_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    asyncio.set_event_loop(loop)


def _run_program(program: Path) -> None:
    import runpy

    runpy.run_path(str(program), run_name="__main__")


def mock_invoke(token: str, args: dict[str, Any], region: str) -> dict[str, Any]:
    """Plausible, deterministic answers for the data sources programs commonly call."""
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = [f"{region}{z}" for z in "abc"]
        return {"names": names, "zoneIds": [f"{region[:3]}-az{i}" for i in (1, 2, 3)]}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "id": region, "region": region}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": "123456789012",
            "arn": "arn:aws:iam::123456789012:user/preview",
            "userId": "PREVIEW",
            "id": "123456789012",
        }
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    if token == "aws:ec2/getAmi:getAmi":
        return {"id": "ami-0preview000000000", "imageId": "ami-0preview000000000", **args}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        doc = json.dumps(args, sort_keys=True)
        return {"json": doc, "minifiedJson": doc, "id": fingerprint(b"doc", args)[:12]}
    return {"id": f"preview-{token.rsplit(':', 1)[-1]}", **args}


def _scrub_file(path: str) -> None:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    clean = redact(text)
    if clean != text:
        Path(path).write_text(clean, encoding="utf-8")


def _child(job: dict[str, Any], key: bytes, timeout: float, before: set[str]) -> int:
    log_fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    t0, c0 = time.perf_counter(), time.process_time()
    hints = _record_hints()
    code = 0
    try:
        result = run_job(job, key, timeout)
        result["seconds"] = round(time.perf_counter() - t0, 4)
        # CPU too: under load a child's wall clock also counts its wait for a core.
        result["cpu_seconds"] = round(time.process_time() - c0, 4)
        root = Path(os.path.realpath(job["root"]))
        result["imports"], result["new_modules"] = _new_modules(before, root)
        result["hints"] = sorted(hints)
    except BaseException:
        traceback.print_exc()
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    if _SEEN_SECRETS:
        _scrub_file(job["log"])
    if code:
        return code
    err = result.get("error")
    if err and _SEEN_SECRETS:
        err["message"] = redact(str(err["message"]))
        err["details"] = [redact(str(d)) for d in err.get("details") or []]
    tmp = job["out"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, separators=(",", ":"))
    os.replace(tmp, job["out"])
    return 0


def preload(names: list[str]) -> None:
    """Import library modules once in the parent so every forked child has them."""
    for name in names:
        try:
            mod = importlib.import_module(name)
            # Touch attributes: pulumi_aws packages load their resources on first use.
            for attr in ("Bucket", "Vpc", "Role", "Group", "Queue", "Parameter"):
                getattr(mod, attr, None)
        except Exception:
            continue


def _record_hints() -> set[str]:
    """Classes whose type hints the SDK resolves in this child ("module:qualname"):
    the fork server resolves them once next time (`warm_hints`)."""
    seen: set[str] = set()
    try:
        from pulumi import _types
    except ImportError:  # pragma: no cover - pulumi is what we run
        return seen
    original = getattr(_types, "_raw_return_hints", None)
    if original is None:  # another SDK version: nothing to learn, nothing breaks
        return seen

    def recording(cls: type) -> Any:
        seen.add(f"{cls.__module__}:{cls.__qualname__}")
        return original(cls)

    _types._raw_return_hints = recording  # type: ignore[attr-defined]
    return seen


def warm_hints(names: list[str]) -> None:
    """Resolve the SDK's per-class type hints once (functools.cache'd in the SDK)."""
    try:
        from pulumi import _types
    except ImportError:  # pragma: no cover
        return
    resolve = getattr(_types, "_types_from_py_properties", None)
    if resolve is None:
        return
    for name in names:
        module, _, qualname = name.partition(":")
        obj: Any = sys.modules.get(module)  # only what the server imported: no program code
        if obj is None:
            continue
        try:
            for part in qualname.split("."):
                obj = getattr(obj, part)
            resolve(obj)
        except Exception:
            continue


def skip_stack_traces() -> None:
    """Do not capture a stack trace per resource.

    The SDK records, for every resource, the Python stack that created it
    (`traceback.extract_stack`: reading and stat-ing the source files) so the
    engine can show source positions. The mock monitor never uses them, and
    they were about a quarter of the SDK's per-resource work.
    """
    try:
        from pulumi.runtime import resource
        from pulumi.runtime.proto import source_pb2
    except ImportError:  # another SDK layout: keep its behaviour
        return
    if hasattr(resource, "_get_stack_trace"):
        resource._get_stack_trace = source_pb2.StackTrace  # type: ignore[attr-defined]


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the stack, its config or the monitor used while warming")


class _NoConfigYet:
    """The SDK's config variable while warming: reading it raises."""

    get = set = _refuse


def _without_stack(fn: Any, *args: Any) -> Any:
    """Run `fn` with the SDK's stack, project, organization, monitor and config made
    to raise on any read.

    No stack is set while the fork server imports project modules, and the
    SDK's defaults ("stack", "project", no config) would be silently wrong for
    a module that reads them at import (`STACK = pulumi.get_stack()`) or that
    creates a resource then. Such a module fails to warm, and each child
    imports it itself with its own stack set. The reads are patched on the
    Settings class and the config module (every import path of `get_stack`
    ends there), and restored after.
    """
    try:
        from pulumi.runtime import config, settings
    except ImportError:  # pragma: no cover - pulumi is what we run
        return fn(*args)
    cls = type(settings.SETTINGS)
    names = ("stack", "project", "organization", "monitor", "engine", "root_directory")
    saved = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    saved_config = config.CONFIG
    try:
        for n in saved:
            setattr(cls, n, property(_refuse, _refuse))
        config.CONFIG = _NoConfigYet()  # type: ignore[assignment]
        return fn(*args)
    finally:
        for n, prop in saved.items():
            setattr(cls, n, prop)
        config.CONFIG = saved_config


def warm_modules(names: list[str], root: str, stacks_dir: str) -> list[str]:
    """Import the project modules the program imports (from this job group's root);
    returns the names that imported.

    Includes the program's own modules under stacks/ (components/...). A module
    that fails to import - also one that reads the stack, its config or creates
    a resource at import (`_NoStackYet`) - is dropped again, so the child
    imports it itself and reports any error where the program stands.
    """
    sys.path[:0] = [stacks_dir, root]
    warmed = []
    for name in names:
        before = set(sys.modules)
        try:
            _without_stack(importlib.import_module, name)
            warmed.append(name)
        except BaseException:
            for new in set(sys.modules) - before:
                sys.modules.pop(new, None)
    del sys.path[:2]
    return warmed


def _new_modules(before: set[str], root: Path) -> tuple[list[str], list[str]]:
    """Modules a child imported since the fork: (project files relative to the
    root, library module names worth preloading next time)."""
    project, library = set(), set()
    for name in set(sys.modules) - before:
        path = getattr(sys.modules.get(name), "__file__", None)
        if not path or name == "__main__":
            continue
        real = Path(os.path.realpath(path))
        if real.is_relative_to(root) and "site-packages" not in real.parts:
            project.add(real.relative_to(root).as_posix())
        elif not name.startswith(("components", "fleetctl")):
            library.add(name)
    return sorted(project), sorted(library)


def prepare(first: dict[str, Any]) -> float:
    """The one-time work before any job is known; returns its seconds."""
    t0 = time.perf_counter()
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(here)]
    preload([*DEFAULT_PRELOAD, *(first.get("preload") or [])])
    warm_hints(list(first.get("hints") or []))
    skip_stack_traces()
    gc.collect()
    gc.freeze()  # children never scan what the server imported
    return time.perf_counter() - t0


def serve(request: dict[str, Any], prepared: float) -> int:
    t0 = time.perf_counter()
    key = bytes.fromhex(request["key"])
    parallel = max(1, int(request.get("parallel") or 1))
    timeout = float(request.get("timeout") or 300)
    jobs = list(request["jobs"])
    # Jobs grouped by checkout root (head, base): each group runs in a fork that
    # first imports that root's project modules, so its children share them. The
    # groups run side by side, the `parallel` slots shared out by their sizes.
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        groups.setdefault(str(job["root"]), []).append(job)
    ready = prepared + time.perf_counter() - t0
    sys.stdout.write(json.dumps({"ready": round(ready, 4)}) + "\n")
    sys.stdout.flush()
    pending = list(groups.values())
    for batch in _batches(pending, parallel):
        pids = []
        for group, slots in batch:
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                code = 70
                try:
                    before = set(sys.modules)  # warmed modules still count as the program's
                    warm = list(group[0].get("warm") or [])
                    if warm:
                        warm_modules(warm, str(group[0]["root"]), str(group[0]["stacks_dir"]))
                    code = _serve_group(group, key, slots, timeout, before)
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
    return 0


def _batches(
    groups: list[list[dict[str, Any]]], parallel: int
) -> list[list[tuple[list[dict[str, Any]], int]]]:
    """Groups to run at once with their slots: all together when there are enough
    slots (one each, the rest to the groups with most jobs per slot), else one by one."""
    if parallel < len(groups):
        return [[(g, parallel)] for g in groups]
    slots = [1] * len(groups)
    for _ in range(parallel - len(groups)):
        i = max(range(len(groups)), key=lambda j: len(groups[j]) / slots[j])
        slots[i] += 1
    return [list(zip(groups, slots, strict=True))]


def _serve_group(
    jobs: list[dict[str, Any]], key: bytes, parallel: int, timeout: float, before: set[str]
) -> int:
    gc.freeze()  # the warmed modules too: children never scan them
    running: dict[int, dict[str, Any]] = {}
    while jobs or running:
        while jobs and len(running) < parallel:
            job = jobs.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                gc.disable()
                code = 70
                try:
                    code = _child(job, key, timeout, before)
                finally:
                    os._exit(code)
            running[pid] = job
        pid, status = os.wait()
        job = running.pop(pid, None)
        if job is None:
            continue
        rc = os.waitstatus_to_exitcode(status)
        sys.stdout.write(json.dumps({"id": job["id"], "rc": rc}) + "\n")
        sys.stdout.flush()
    return 0


def main() -> int:
    prepared = prepare(json.loads(sys.stdin.readline() or "{}"))
    rest = sys.stdin.read()
    if not rest.strip():  # the caller needed no job after all
        return 0
    return serve(json.loads(rest), prepared)


if __name__ == "__main__":
    sys.exit(main())
