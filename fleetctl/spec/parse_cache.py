"""Parsed stack files, keyed by their bytes: the round-trip YAML loader only
for files that changed or have a problem.

The round-trip loader keeps the line of every key (for file:line errors) and
costs tens of milliseconds a file; a fleet of hundreds of stacks paid that on
every cached preview. This keeps the plain data of each file that loaded
without a problem, keyed by a hash of its bytes and of the loader's own
source (a change to the loader, e.g. new limits, re-reads everything). A file
read from here is checked exactly like a fresh one; any problem and it is
read again round-trip, so every error still carries its line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fleetctl import __version__
from fleetctl.spec.safe_yaml import MAX_BYTES

_FORMAT = 1


@cache
def _salt() -> bytes:
    """The loader's own code: parsed data is only as good as the code that parsed it."""
    here = Path(__file__).parent
    h = hashlib.sha256(f"{_FORMAT}/{__version__}".encode())
    for name in ("loader.py", "safe_yaml.py", "parse_cache.py"):
        with contextlib.suppress(OSError):
            h.update((here / name).read_bytes())
    return h.digest()


def file_key(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_BYTES:  # the round-trip read reports it
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return hashlib.sha256(_salt() + data).hexdigest()


def commented(value: Any) -> Any:
    """Plain data -> ruamel containers (without line marks), as the checks expect."""
    if isinstance(value, dict):
        return CommentedMap((k, commented(v)) for k, v in value.items())
    if isinstance(value, list):
        return CommentedSeq(commented(v) for v in value)
    return value


class ParseCache:
    """{file key: plain data}, one JSON file; None path = no cache. Never raises on I/O:
    a missing or read-only cache only costs speed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        self.dirty = False
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                doc = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(doc, dict):
                    self.entries = doc

    def get(self, key: str | None) -> Any:
        if key is None or key not in self.entries:
            return None
        self.used[key] = self.entries[key]
        return self.entries[key]

    def put(self, key: str | None, data: Any) -> None:
        if key is None or self.path is None:
            return
        try:
            json.dumps(data)  # dates and other non-JSON values: not cached
        except (TypeError, ValueError):
            return
        self.used[key] = data
        self.dirty = True

    def save(self) -> None:
        """Keep the entries of this load only: the cache never outgrows the fleet."""
        if self.path is None or not (self.dirty or len(self.used) != len(self.entries)):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.used, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            return
