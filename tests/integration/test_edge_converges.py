"""A run killed between writing nginx.conf and its reload handler leaves the
config current and nginx serving the old one; the next run must notice."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from fleetctl.adapters import http_probe
from tests.lab_fixture import LabHandle

pytestmark = pytest.mark.integration


def served(url: str) -> str:
    r = http_probe.get(url)
    assert r.status in (200, 503), r
    return r.headers["x-fleet-release"]


def reload(conf: Path) -> None:
    nginx_dir = conf.parent
    subprocess.run(
        ["/usr/sbin/nginx", "-s", "reload", "-p", f"{nginx_dir}/", "-c", str(conf)],
        check=True,
        capture_output=True,
    )


def test_next_run_reloads_an_edge_whose_reload_was_interrupted(lab: LabHandle) -> None:
    edge = lab.edges()[1]
    conf = Path(edge.lab_root) / "nginx" / "nginx.conf"
    healthz = edge.url("/healthz")
    assert lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": "r-old"}).ok
    old_text = conf.read_text()
    assert lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": "r-new"}).ok
    new_text = conf.read_text()
    # Back to r-old in memory, then r-new on disk without a reload: the state a
    # kill -9 between the template task and its handler leaves behind.
    conf.write_text(old_text)
    reload(conf)
    deadline = time.time() + 60  # bounded; a loaded machine reloads slowly
    resend = time.time() + 2
    while (got := served(healthz)) != "r-old" and time.time() < deadline:  # bounded
        if time.time() > resend:  # nginx may drop a HUP that races the last reload
            reload(conf)
            resend = time.time() + 2
        time.sleep(0.1)
    conf.write_text(new_text)
    assert got == "r-old"

    check = lab.apply("edge.yml", limit=edge.name, check=True,
                      extravars={"fleet_release": "r-new"})  # fmt: skip
    assert check.ok and check.hosts[edge.name].changed  # the pending reload shows
    result = lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": "r-new"})
    assert result.ok and result.hosts[edge.name].changed
    assert served(healthz) == "r-new"
    again = lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": "r-new"})
    assert again.ok and not again.hosts[edge.name].changed
