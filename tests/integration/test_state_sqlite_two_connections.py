"""A process with two SQLite stores open on one state file (`approvals serve`: the
serving thread's and a promote thread's) stays visible to other processes.

Opening a store used to open and close a descriptor of the database file, which
drops every POSIX lock the process holds on it (SQLite's own locks included):
another process that opened and closed a store could then take the file for
itself, checkpoint and delete the WAL, and the first process kept writing into
the deleted one: its writes were invisible to everyone else until it exited.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetctl.adapters.state.sqlite import SqliteStore

pytestmark = pytest.mark.integration

_WRITER = r"""
import sys, time
from fleetctl.adapters.state.sqlite import SqliteStore
first = SqliteStore(sys.argv[1])
first.get("x", "1")
time.sleep(1.0)
second = SqliteStore(sys.argv[1])  # a second store in the same process
for i in range(3):
    time.sleep(1.0)
    second.put("x", "1", {"i": i})
    print("wrote", i, flush=True)
time.sleep(3)
"""


def test_writes_of_a_process_with_two_stores_are_seen_by_a_reader_that_reopens(
    tmp_path: Path,
) -> None:
    db = tmp_path / "state.db"
    made = SqliteStore(db)
    made.put("x", "1", {"i": -1})
    made.close()  # the reader below is this process's only connection
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE)
    seen: list[object] = []
    running = False
    try:
        deadline = time.monotonic() + 30
        # what `rollout status` or a poll in a test does: open, read, close, again
        while time.monotonic() < deadline and writer.poll() is None:
            s = SqliteStore(db)
            doc = s.get("x", "1")
            s.close()
            if not seen or seen[-1] != doc:
                seen.append(doc)
            if doc == {"i": 2}:
                running = writer.poll() is None
                break
            time.sleep(0.2)
    finally:
        writer.kill()
        writer.wait()
    # the last write is seen while its writer still runs (it sleeps 3 s after it)
    assert seen[-1] == {"i": 2} and running, seen
