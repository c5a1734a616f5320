"""The video gates end to end on a real lab: `fleetctl rollout start` with
`hls_playback`, `cache` and `slo_burn` on, real nginx edges in front of a
real HLS origin, a real Prometheus scraping mtail on the edges' access logs.

A good change passes all four gates (http, hls_playback, cache, slo_burn) in
one rollout; a segment path paced below real time passes the HTTP and latency
gates and fails `hls_playback` with rebuffers; a cache key with a per-request
value passes them too and fails `cache` (hit ratio and projected origin
load); slowed media playlists (segments untouched) fail `hls_playback` on
startup against the baseline edges. Each bad change is rolled back with
proof. The edges refuse a TLS 1.1 client.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_rollout_lab import REPO, LabWS, lab  # noqa: F401 - the module's lab fixture
from tests.lab_fixture import wait_until_scraped

pytestmark = pytest.mark.e2e
VIDEO = REPO / "tests" / "fixtures" / "policies" / "video.yml"


def step_gates(ws: LabWS, rid: str) -> dict[str, dict[str, Any]]:
    """The gate events of the first judged step (the canary)."""
    out: dict[str, dict[str, Any]] = {}
    for e in ws.events(rid):
        if e["type"] == "gate" and e["phase"] == "step" and e["gate"] not in out:
            out[e["gate"]] = e
    return out


@pytest.fixture(scope="module")
def prom(lab: LabWS) -> str:  # noqa: F811
    """The module's lab re-upped with monitoring (no new lab: Prometheus and
    an mtail per edge beside it); Prometheus's URL once it scrapes every edge."""
    from fleetctl.services import lab as lab_service
    from fleetctl.services import lab_monitoring

    handle = lab_service.lab_up(
        5,
        lab_dir=lab.lab_dir,
        playbooks_dir=lab.root / "playbooks",
        subnet=lab.lab.subnet,
        inventory_copy=lab.root / "inventories" / "lab" / "hosts.yml",
        apply=False,
        prometheus=True,
    )
    url = lab_monitoring.url(handle)
    return wait_until_scraped(url, len(lab.edges()))


def video_slo_policy(tmp: Path, url: str) -> Path:
    """video.yml (http, canary_analysis, hls_playback, cache) plus slo_burn,
    windows scaled 1/60 as in `slo_policy`; a longer bake so the 5 s short
    window holds only traffic served after the change."""
    path = tmp / "video-slo.yml"
    text = VIDEO.read_text().replace("bake_s: 1\n", "bake_s: 6\n")
    assert "bake_s: 6\n" in text
    path.write_text(
        text + "  slo_burn:\n"
        "    enabled: true\n"
        f"    url: {url}\n"
        "    window_scale: 0.0166667\n"
        "    min_requests: 30\n"
    )
    return path


def test_good_change_passes_the_video_gates(lab: LabWS, prom: str, tmp_path: Path) -> None:  # noqa: F811
    """One rollout of a good change, every gate on: all four pass at every step."""
    with Viewers(lab):
        time.sleep(8)  # targets scraped, and traffic in the short windows
        rc, out, err = lab.start(
            "-x", "demo_note=video-good", policy=video_slo_policy(tmp_path, prom)
        )
    assert rc == 0, err
    assert out["status"] == "completed"
    # read back through `rollout why --format json`: every judged step ran
    # all four gates and each passed
    why_json = lab.run("rollout", "why", out["id"], "--format", "json")
    assert why_json.returncode == 0, why_json.stderr
    events = json.loads(why_json.stdout)["events"]
    step_verdicts: dict[int, dict[str, str]] = {}
    step = -1
    for e in events:  # a step's gate events follow its step_started
        if e["type"] == "step_started":
            step = e["step"]
        elif e["type"] == "gate" and e["phase"] == "step":
            step_verdicts.setdefault(step, {})[e["gate"]] = e["verdict"]
    started = [e for e in events if e["type"] == "step_started"]
    assert len(step_verdicts) == len(started) == 3, step_verdicts  # canary, 50 %, 100 %
    for step, verdicts in step_verdicts.items():
        for g in ("http", "hls_playback", "cache", "slo_burn"):
            assert verdicts.get(g) == "pass", (step, verdicts)
    gates = step_gates(lab, out["id"])
    burn = gates["slo_burn"]
    assert burn["numbers"]["fast"]["short"]["requests"] >= 30, burn  # judged on real traffic
    assert gates["hls_playback"]["verdict"] == "pass", gates["hls_playback"]
    assert gates["hls_playback"]["numbers"]["changed_rebuffer_events"] == 0
    assert gates["cache"]["verdict"] == "pass", gates["cache"]
    assert gates["cache"]["numbers"]["changed_hit_ratio"] == 1.0
    # the policy says nothing about TLS: the lab's edges declare https_port and
    # the lab CA, so every edge probe went over verified HTTPS
    for g in ("http", "canary_analysis", "hls_playback", "cache"):
        assert gates[g]["numbers"]["scheme"] == "https", gates[g]["numbers"]
    # each verdict kept its raw observations (numbers only) for the report
    dists = {d["metric"]: d for d in gates["hls_playback"]["samples"]["distributions"]}
    assert dists["startup_s"]["changed_n"] == 5 and dists["startup_s"]["baseline_n"] >= 5
    hits = gates["cache"]["samples"]["distributions"][0]
    assert hits["metric"] == "hit_ratio" and hits["changed"] == [1.0]
    lat = gates["canary_analysis"]["samples"]["distributions"][0]
    assert lat["changed_n"] >= 20 and all(isinstance(v, float) for v in lat["baseline"])
    why = lab.run("rollout", "why", out["id"])
    assert "scheme=https" in why.stdout


def test_slowed_segment_path_fails_hls_playback_with_rebuffers(lab: LabWS) -> None:  # noqa: F811
    good = set(lab.served().values())
    rc, out, err = lab.start("-x", "edge_segment_limit_rate=16k", policy=VIDEO)
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    gates = step_gates(lab, out["id"])
    assert gates["http"]["verdict"] == "pass"
    assert gates["canary_analysis"]["verdict"] == "pass"
    hls = gates["hls_playback"]
    assert hls["verdict"] == "fail" and "rebuffer ratio" in hls["reason"]
    assert hls["numbers"]["changed_rebuffer_events"] > 0
    assert hls["numbers"]["changed_min_download_ratio"] < 1
    assert hls["numbers"]["baseline_rebuffer_events"] == 0
    why = lab.run("rollout", "why", out["id"])
    assert "rebuffer" in why.stdout and "rollback PROVEN" in why.stdout
    assert set(lab.served().values()) == good


def test_cache_bust_fails_cache_with_projected_origin_load(
    lab: LabWS,  # noqa: F811
    tmp_path: Path,
) -> None:
    good = set(lab.served().values())
    rc, out, err = lab.start("-x", "edge_cache_key=$request_uri$request_id", policy=VIDEO)
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    gates = step_gates(lab, out["id"])
    assert gates["http"]["verdict"] == "pass"
    assert gates["canary_analysis"]["verdict"] == "pass"
    cache = gates["cache"]
    assert cache["verdict"] == "fail" and "hit ratio 0.0%" in cache["reason"]
    n = cache["numbers"]
    assert n["changed_origin_per_request"] == 1.0 and n["baseline_hit_ratio"] == 1.0
    assert n["projected_origin_rps"] > n["baseline_origin_rps"]
    assert "like the baseline" in cache["reason"]  # the load beside the baseline's
    assert set(lab.served().values()) == good
    # the report of this real rollout draws the ratios and the projected load
    page = tmp_path / "report.html"
    rep = lab.run("rollout", "report", out["id"], "--out", str(page))
    assert rep.returncode == 0, rep.stderr
    html = page.read_text()
    assert "cache hit ratio per edge distribution: canary n=1 vs baseline n=" in html
    assert "startup time (s) per session distribution" in html
    assert f"canary {n['projected_origin_rps']:g} req/s vs baseline 0 req/s" in html


def slow_playlists(ws: LabWS, delay_ms: int) -> str:
    """nginx directives (for `edge_extra_directives`) that delay every media
    playlist by `delay_ms` through the lab's delay helper and leave segments
    and the master playlist alone. Exact-match locations: they win over the
    nested `\\.m3u8$` regex of `/vod/`, which a regex could not."""
    origin = ws.lab.by_role("origin")[0]
    upstream = f"http://{origin.address}:{origin.http_port}"
    out = [
        f"location = /vod/sample/v{i}/index.m3u8 {{ auth_request /__slow_playlist; "
        f"proxy_pass {upstream}; }}"
        for i in range(3)  # the sample ladder's renditions v0..v2
    ]
    out.append(
        "location = /__slow_playlist { internal; "
        f"proxy_pass http://{ws.lab.delay_address}/delay/{delay_ms}; "
        'proxy_pass_request_body off; proxy_set_header Content-Length ""; }'
    )
    return " ".join(out)


def test_slowed_playlists_fail_hls_playback_on_startup_not_rebuffering(lab: LabWS) -> None:  # noqa: F811
    """Media playlists 500 ms slower on the canary: every startup grows, no
    segment is slower, the absolute limit (2 s p95) still holds; only the
    comparison with the baseline edges' startups fails it."""
    good = set(lab.served().values())
    rc, out, err = lab.start(
        "-x", f"edge_extra_directives={slow_playlists(lab, 500)}", policy=VIDEO
    )
    assert rc == 1, err
    assert out["status"] == "rolled_back"
    gates = step_gates(lab, out["id"])
    assert gates["http"]["verdict"] == "pass"  # /healthz and the master playlist
    assert gates["canary_analysis"]["verdict"] == "pass"
    hls = gates["hls_playback"]
    n = hls["numbers"]
    assert hls["verdict"] == "fail" and hls["reason"].startswith("startup regression"), hls
    assert n["changed_rebuffer_events"] == 0 and n["baseline_rebuffer_events"] == 0
    assert n["changed_startup_p95_s"] <= n["max_startup_p95_s"]  # not the absolute limit
    assert n["startup_p"] < n["alpha"]
    assert n["startup_median_delta_s"] >= 0.4  # the 500 ms, give or take scheduling
    assert n["startup_median_ratio"] >= n["min_effect_ratio"]
    why = lab.run("rollout", "why", out["id"])
    assert "startup regression" in why.stdout and "rollback PROVEN" in why.stdout
    assert f"startup_p={n['startup_p']}" in why.stdout, why.stdout
    assert set(lab.served().values()) == good


class Viewers:
    """Background viewers: GETs of the lowest rendition's segments and the
    health path on every edge, as a real audience would send, so Prometheus
    has traffic to judge while a rollout runs."""

    def __init__(self, ws: LabWS) -> None:
        import threading

        self.urls = [
            h.url(p)
            for h in ws.edges()
            for p in ("/healthz", "/vod/sample/v2/seg_000.ts", "/vod/sample/v2/seg_001.ts")
        ]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from fleetctl.adapters import http_probe

        while not self.done.is_set():
            for u in self.urls:
                http_probe.get(u, 2.0)
            self.done.wait(0.05)

    def __enter__(self) -> Viewers:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=10)


def slo_policy(tmp: Path, url: str) -> Path:
    """HTTP on /healthz only and slo_burn on: only slo_burn sees segment errors.
    Windows scaled 1/60 (fast 60 s / 5 s, slow 360 s / 30 s); the bake lets
    the short windows fill with traffic after the change."""
    path = tmp / "slo.yml"
    path.write_text(
        "bake_s: 6\n"
        "canary: {hosts: 1}\n"
        'waves: ["100%"]\n'
        "gates:\n"
        "  http: {roles: [edge], paths: [/healthz], samples: 20}\n"
        "  canary_analysis: {min_samples: 20, min_effect_ms: 100}\n"  # as fast.yml
        "  slo_burn:\n"
        "    enabled: true\n"
        f"    url: {url}\n"
        "    window_scale: 0.0166667\n"
        "    min_requests: 30\n"
    )
    return path


def test_slo_burn_on_a_real_prometheus(lab: LabWS, prom: str, tmp_path: Path) -> None:  # noqa: F811
    """An error burst (503 for some segments) fails slo_burn and rolls back
    (the good change passing it is the first test); an unreachable Prometheus
    pauses, never passes."""
    good = set(lab.served().values())
    with Viewers(lab):
        time.sleep(3)  # traffic in the short windows
        burst = 'edge_broken_paths=["/vod/sample/v2/seg_001.ts"]'
        rc, out, err = lab.start("-x", burst, policy=slo_policy(tmp_path, prom))
        assert rc == 1, err
        assert out["status"] == "rolled_back"
        gates = step_gates(lab, out["id"])
        assert gates["http"]["verdict"] == "pass"
        burn = gates["slo_burn"]
        assert burn["verdict"] == "fail" and "error budget burning" in burn["reason"], burn
        assert burn["numbers"]["fast"]["short"]["errors"] > 0
        assert set(lab.served().values()) == good

    dead = slo_policy(tmp_path, f"http://{lab.lab.subnet}.1:9")
    rc, out, err = lab.start("-x", "demo_note=slo-dead", policy=dead)
    assert rc == 1, err
    assert out["status"] == "paused"
    burn = step_gates(lab, out["id"])["slo_burn"]
    assert burn["verdict"] == "inconclusive" and "unreadable" in burn["reason"]
    ab = lab.run("rollout", "abort", out["id"], "-r", "test cleanup")
    assert ab.returncode in (0, 1), ab.stderr  # rolled back (1: the rollout did not complete)


def _tls11_client(ca: Path) -> ssl.SSLContext:
    """A client that offers TLS 1.1 only, at OpenSSL security level 0 (at
    the default level OpenSSL 3 refuses TLS < 1.2 on its own, and a refusal
    would prove nothing about the edge); verifies against the lab CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLSVersion.TLSv1_1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def _handshake(ctx: ssl.SSLContext, address: str, port: int) -> str | None:
    """The negotiated version, or None when the handshake failed."""
    try:
        with (
            socket.create_connection((address, port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=address) as tls,
        ):
            return tls.version()
    except ssl.SSLError:
        return None


def test_edges_refuse_tls_1_1(lab: LabWS) -> None:  # noqa: F811
    from fleetctl.services import lab as lab_service

    edge = lab.edges()[0]
    tls_dir = Path(edge.lab_root) / "nginx" / "tls"
    client = _tls11_client(lab_service.ca_file(lab.lab))

    # precondition: this client does speak TLS 1.1, to a server (same
    # certificate as the edge) that allows it
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls_dir / "current.crt", tls_dir / "current.key")
    server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server_ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        server_ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_server((edge.address, 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        assert _handshake(client, edge.address, port) == "TLSv1.1"
        t.join(timeout=5)

    # the real edge (nginx, the role's config) refuses that client...
    assert _handshake(client, edge.address, lab_service.HTTPS_PORT) is None
    # ...and talks TLS 1.2+ to the same client once it may offer 1.2
    modern = _tls11_client(lab_service.ca_file(lab.lab))
    modern.maximum_version = ssl.TLSVersion.TLSv1_3
    assert _handshake(modern, edge.address, lab_service.HTTPS_PORT) in ("TLSv1.2", "TLSv1.3")
    # the refusal is the role's doing, not only the server's OpenSSL defaults
    conf = (Path(edge.lab_root) / "nginx" / "nginx.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
