"""The lab and the Ansible executor against real sshd, nginx and Ansible."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from fleetctl.adapters import http_probe, procs
from fleetctl.adapters.ansible import run_playbook
from fleetctl.core.ansible_result import RunStatus
from fleetctl.services import lab as lab_service
from tests.lab_fixture import LabHandle

pytestmark = pytest.mark.integration

STRATEGIES = ["linear", "mitogen"]


def release_of(host) -> str:  # type: ignore[no-untyped-def]
    r = http_probe.get(host.url("/healthz"))
    assert r.status == 200, r
    return r.headers["x-fleet-release"]


def left_running(run_id: str, within_s: float = 10.0) -> list[procs.Proc]:
    """Processes of run `run_id` still alive after a bounded wait: a killed
    process group takes a moment to exit on a loaded machine (it used to be a
    fixed 0.5 s). 10 s is only the margin; a run that leaves one behind
    still fails."""
    end = time.monotonic() + within_s
    while (left := procs.with_environ("FLEETCTL_RUN_ID", run_id)) and time.monotonic() < end:
        time.sleep(0.1)
    return left


def test_lab_serves_video_through_every_edge(lab: LabHandle) -> None:
    _, rows = lab_service.lab_status(lab.dir)
    assert {r.host.role for r in rows} >= {"origin", "edge"}
    assert len({r.host.region for r in rows if r.host.role == "edge"}) >= 3
    for r in rows:
        assert all(state == "RUNNING" for state in r.processes.values()), r
        assert r.health in ("ok", "n/a"), r
        if r.host.role == "edge":
            assert r.segment == "ok", r
            assert r.release  # every edge reports the release it runs
    edge = lab.edges()[0]
    playlist = http_probe.get(edge.url("/vod/sample/master.m3u8"))
    assert playlist.status == 200
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    again = http_probe.get(edge.url("/vod/sample/v0/seg_001.ts"))
    again = http_probe.get(edge.url("/vod/sample/v0/seg_001.ts"))
    assert again.headers.get("x-cache-status") == "HIT"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_second_run_changes_nothing(lab: LabHandle, strategy: str) -> None:
    # converge first (other tests may have left another release deployed)
    assert lab.apply("site.yml").ok
    result = lab.apply("site.yml", strategy=strategy)
    assert result.status is RunStatus.successful, result.hosts
    assert result.strategy == ("mitogen_linear" if strategy == "mitogen" else "linear")
    assert set(result.hosts) == set(lab.lab.names())
    for host, outcome in result.hosts.items():
        assert outcome.changed == 0, (host, outcome.changed_tasks)
        assert outcome.ok > 0


def test_check_diff_shows_pending_change_without_applying(lab: LabHandle) -> None:
    edge = lab.edges()[0]
    conf = Path(edge.lab_root) / "nginx/nginx.conf"
    before = conf.read_text()
    baseline = release_of(edge)
    result = lab.apply(
        "edge.yml", check=True, diff=True, limit=edge.name, extravars={"fleet_release": "r-check"}
    )
    assert result.status is RunStatus.successful
    outcome = result.hosts[edge.name]
    assert "Configure the edge nginx" in outcome.changed_tasks
    assert any('+        add_header X-Fleet-Release "r-check"' in d for d in outcome.diffs)
    assert conf.read_text() == before
    assert release_of(edge) == baseline
    # the check mode did not leak into the next run (fresh private data dir)
    applied = lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": "r-check"})
    try:
        assert applied.hosts[edge.name].changed > 0
        assert release_of(edge) == "r-check"
    finally:
        lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": baseline})
    assert release_of(edge) == baseline


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_stopped_sshd_is_unreachable_not_failed(lab: LabHandle, strategy: str) -> None:
    down, *others = lab.edges()
    baseline = release_of(down)
    lab.stop(down.name, "sshd")
    try:
        result = lab.apply("edge.yml", check=True, strategy=strategy)
    finally:
        lab.start(down.name, "sshd")
    assert result.status is RunStatus.failed
    assert result.unreachable_hosts == [down.name]
    assert result.failed_hosts == []
    assert result.hosts[down.name].state == "unreachable"
    for h in others:
        assert result.hosts[h.name].state in ("ok", "changed"), result.hosts[h.name]
        assert result.hosts[h.name].failed == 0
    # nginx never depended on sshd: the host still serves
    assert release_of(down) == baseline


def test_broken_template_fails_the_play_and_keeps_serving(lab: LabHandle) -> None:
    edge = lab.edges()[-1]
    conf = Path(edge.lab_root) / "nginx/nginx.conf"
    before = conf.read_text()
    baseline = release_of(edge)
    result = lab.apply(
        "edge.yml",
        limit=edge.name,
        extravars={"fleet_release": "r-broken", "edge_extra_directives": "no_such_directive on;"},
    )
    assert result.status is RunStatus.failed
    assert result.failed_hosts == [edge.name]
    assert result.unreachable_hosts == []
    assert any("no_such_directive" in m for m in result.hosts[edge.name].failed_msgs)
    assert conf.read_text() == before
    assert release_of(edge) == baseline
    seg = http_probe.get(edge.url("/vod/sample/v1/seg_000.ts"))
    assert seg.status == 200 and seg.body_bytes > 0


def test_fault_knobs_break_paths_and_add_delay(lab: LabHandle) -> None:
    edge = lab.edges()[0]
    baseline = release_of(edge)
    try:
        result = lab.apply(
            "edge.yml",
            limit=edge.name,
            extravars={
                "fleet_release": "r-slow",
                "edge_response_delay_ms": 400,
                "edge_broken_paths": ["/vod/sample/v0/"],
            },
        )
        assert result.ok, result.hosts
        broken = http_probe.get(edge.url("/vod/sample/v0/index.m3u8"))
        assert broken.status == 503
        slow = http_probe.get(edge.url("/vod/sample/v1/index.m3u8"))
        assert slow.status == 200
        assert slow.latency_s >= 0.4
        assert slow.headers["x-fleet-release"] == "r-slow"
    finally:
        lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": baseline})
    assert http_probe.get(edge.url("/vod/sample/v0/index.m3u8")).status == 200


def test_transcode_worker_turns_a_queued_job_into_hls(lab: LabHandle) -> None:
    workers = lab.lab.by_role("transcode")
    if not workers:
        pytest.skip("lab without a transcode host")
    queue = Path(workers[0].lab_root) / "queue"
    (queue / "incoming" / "clip1.json").write_text(
        json.dumps({"name": "clip1", "source": "testsrc:2"})
    )
    edge = lab.edges()[0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (queue / "done" / "clip1.json").exists():
        assert not (queue / "failed" / "clip1.json").exists(), (
            queue / "failed" / "clip1.json.error"
        ).read_text()
        time.sleep(0.25)
    assert (queue / "done" / "clip1.json").exists()
    r = http_probe.get(edge.url("/vod/clip1/master.m3u8"))
    assert r.status == 200
    seg = http_probe.get(edge.url("/vod/clip1/v2/seg_000.ts"))
    assert seg.status == 200 and seg.body_bytes > 0


# -- the ansible-runner traps -----------------------------------------------------------


def _sleep_playbook(tmp_path: Path) -> Path:
    pb = tmp_path / "sleep.yml"
    pb.write_text(
        "- name: Sleep\n  hosts: edge\n  gather_facts: false\n  tasks:\n"
        "    - name: Sleep a while\n      ansible.builtin.command: sleep 60\n"
        "      changed_when: false\n"
    )
    return pb


def test_cancel_kills_every_process_of_the_run(lab: LabHandle, tmp_path: Path) -> None:
    started = time.monotonic()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    result = run_playbook(
        _sleep_playbook(tmp_path),
        lab.inventory,
        strategy="linear",
        cancel=lambda: time.monotonic() - started > 3,
    )
    assert result.status is RunStatus.canceled
    assert time.monotonic() - started < 30
    assert left_running(result.run_id) == []
    # no ansible-playbook of ours is left either (the run's own session/process group)
    assert not [p for p in procs.with_cmdline_containing(str(tmp_path / "sleep.yml"))]
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_timeout_stops_the_run(lab: LabHandle, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_playbook(_sleep_playbook(tmp_path), lab.inventory, timeout_s=3)
    assert result.status is RunStatus.timeout
    assert time.monotonic() - started < 30
    assert left_running(result.run_id) == []


def test_relative_inventory_path_is_read_as_a_path(
    lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(lab.inventory.parent)
    result = run_playbook(
        Path(lab_service.__file__).parents[2] / "playbooks/origin.yml", lab.inventory.name
    )
    assert result.status is RunStatus.successful
    assert list(result.hosts) == lab.lab.names("origin")


def test_signal_handlers_restored(lab: LabHandle) -> None:
    def mine(*_: object) -> None:
        pass

    old = signal.signal(signal.SIGTERM, mine)
    try:
        lab.apply("origin.yml")
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, old)


def test_check_mode_sees_a_stopped_nginx_and_apply_restarts_it(lab: LabHandle) -> None:
    edge = lab.edges()[-1]
    baseline = release_of(edge)
    lab.stop(edge.name, "nginx")
    try:
        checked = lab.apply(
            "edge.yml", check=True, limit=edge.name, extravars={"fleet_release": baseline}
        )
        assert checked.hosts[edge.name].changed_tasks == ("Ensure the edge nginx is running",)
        assert http_probe.get(edge.url("/healthz")).status is None  # check changed nothing
    finally:
        applied = lab.apply("edge.yml", limit=edge.name, extravars={"fleet_release": baseline})
    assert applied.hosts[edge.name].changed_tasks == ("Ensure the edge nginx is running",)
    assert release_of(edge) == baseline
