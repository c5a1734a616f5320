"""Releases: immutable, content-addressed snapshots of what a rollout applies.

A release is a deterministic tar of `playbooks/` and `inventories/<env>/`
plus a manifest with the extra vars it was applied with (secret vars by name
and keyed fingerprint only, never their values). Its id is the
sha256 of that tar, so the same content is always the same release. The tar
is stored in the state store (`releases/<hash>`, beside the journal); a
rollback restores it into a temp dir and never reads the working tree or git.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.errors import BadInput, FleetctlError
from fleetctl.services.workspace import Workspace

MANIFEST = "fleetctl-release.json"
_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".retry", ".pyc")


@dataclass(frozen=True)
class Release:
    id: str  # short hash (12 hex), what X-Fleet-Release shows
    hash: str  # full sha256 of the tar
    env: str
    git_sha: str | None
    git_dirty: bool
    created_at: float
    files: int
    size: int
    extravars: dict[str, Any] = field(default_factory=dict)
    secret_vars: dict[str, str] = field(default_factory=dict)  # name -> keyed fingerprint

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Release:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _walk(base: Path, arc_prefix: str) -> Iterator[tuple[str, Path]]:
    if not base.exists():
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(_SKIP_SUFFIXES):
                continue
            path = Path(dirpath) / name
            yield f"{arc_prefix}/{path.relative_to(base).as_posix()}", path


def _tar_bytes(entries: list[tuple[str, bytes, bool]]) -> bytes:
    """A byte-for-byte reproducible tar: sorted names, no times or owners."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, executable in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if executable else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def build(
    root: Path,
    env: str,
    *,
    extravars: dict[str, Any] | None = None,
    secret_vars: dict[str, str] | None = None,
) -> tuple[Release, bytes]:
    """Snapshot `playbooks/` + `inventories/<env>/` of the workspace at `root`.

    `secret_vars`: name -> keyed fingerprint of each secret var (a changed
    secret is a new release; the value itself is never in the snapshot).
    """
    ws = Workspace(root)
    playbooks = ws.playbooks_dir
    inventory = ws.inventories_dir / env
    if not playbooks.is_dir():
        raise BadInput(f"no playbooks/ in {root}", hint="run fleetctl in the repository root")
    if not inventory.exists():
        raise BadInput(
            f"no inventory for env {env!r} ({inventory})",
            hint="for the lab run `fleetctl lab up`; else add inventories/<env>/",
        )
    entries: list[tuple[str, bytes, bool]] = []
    for arc, path in [*_walk(playbooks, "playbooks"), *_walk(inventory, f"inventories/{env}")]:
        entries.append((arc, path.read_bytes(), os.access(path, os.X_OK)))
    manifest: dict[str, Any] = {"env": env, "extravars": dict(sorted((extravars or {}).items()))}
    if secret_vars:  # only when there are some: older releases keep their hash
        manifest["secret_vars"] = dict(sorted(secret_vars.items()))
    entries.append((MANIFEST, json.dumps(manifest, sort_keys=True).encode(), False))
    data = _tar_bytes(entries)
    digest = hashlib.sha256(data).hexdigest()
    sha = _git(root, "rev-parse", "HEAD")
    dirty = bool(_git(root, "status", "--porcelain", "--", "playbooks", f"inventories/{env}"))
    release = Release(
        id=digest[:12],
        hash=digest,
        env=env,
        git_sha=sha,
        git_dirty=dirty,
        created_at=time.time(),
        files=len(entries) - 1,
        size=len(data),
        extravars=manifest["extravars"],
        secret_vars=dict(manifest.get("secret_vars", {})),
    )
    return release, data


def save(store: StateStore, release: Release, data: bytes) -> Release:
    """Store the snapshot (idempotent: an existing release keeps its first record)."""
    existing = store.get("release", release.hash)
    if store.get_blob(f"releases/{release.hash}") is None:
        store.put_blob(f"releases/{release.hash}", data)
    if existing is not None:
        return Release.from_dict(existing)
    store.put("release", release.hash, release.to_dict())
    return release


def snapshot(
    store: StateStore,
    root: Path,
    env: str,
    *,
    extravars: dict[str, Any] | None = None,
    secret_vars: dict[str, str] | None = None,
) -> Release:
    release, data = build(root, env, extravars=extravars, secret_vars=secret_vars)
    return save(store, release, data)


def get(store: StateStore, ref: str) -> Release:
    """A release by full hash or by its 12-character id."""
    doc = store.get("release", ref)
    if doc is None:
        matches = [d for d in store.list("release") if str(d.get("hash", "")).startswith(ref)]
        if len(matches) == 1:
            doc = matches[0]
    if doc is None:
        raise BadInput(f"unknown release {ref!r}")
    return Release.from_dict(doc)


@dataclass(frozen=True)
class Restored:
    root: Path
    playbooks_dir: Path
    inventory_dir: Path
    extravars: dict[str, Any]


def restore(store: StateStore, release: Release, dest: Path) -> Restored:
    """Unpack a release into `dest` after checking its content hash."""
    data = store.get_blob(f"releases/{release.hash}")
    if data is None:
        raise FleetctlError(
            f"the snapshot of release {release.id} is missing from the state store",
            hint="it was stored beside the journal; was the state directory cleaned?",
        )
    if hashlib.sha256(data).hexdigest() != release.hash:
        raise FleetctlError(f"the snapshot of release {release.id} is corrupt (hash mismatch)")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(dest, filter="data")
    manifest = json.loads((dest / MANIFEST).read_text())
    return Restored(
        root=dest,
        playbooks_dir=dest / "playbooks",
        inventory_dir=dest / "inventories" / release.env,
        extravars=dict(manifest.get("extravars", {})),
    )
