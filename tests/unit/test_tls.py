"""The lab CA, edge certificates, verified handshakes, and no code path
that skips verification."""

from __future__ import annotations

import re
import socket
import ssl
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fleetctl.adapters import http_probe, tls

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A one-thread TLS server on 127.0.0.1 answering every request with 200."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as s:
                    s.recv(4096)
                    s.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    )
            except (ssl.SSLError, OSError):
                conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield port
    finally:
        stop.set()
        t.join()
        sock.close()


def test_ca_key_is_private_and_made_once(tmp_path: Path) -> None:
    ca = tls.ensure_ca(tmp_path / "tls")
    key = tmp_path / "tls" / tls.CA_KEY
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = ca.read_bytes()
    assert tls.ensure_ca(tmp_path / "tls").read_bytes() == before


def test_handshake_verifies_against_the_lab_ca(tmp_path: Path) -> None:
    d = tmp_path / "tls"
    cert_pem, key_pem = tls.issue(d, "edge-1", addresses=["127.0.0.1"], days=10)
    tls.write_pair(tmp_path / "e.crt", tmp_path / "e.key", cert_pem, key_pem)
    assert stat.S_IMODE((tmp_path / "e.key").stat().st_mode) == 0o600
    with tls_server(tmp_path / "e.crt", tmp_path / "e.key") as port:
        peer = tls.handshake("edge-1", "127.0.0.1", port, ca_file=d / tls.CA_CERT)
        assert peer.sha256 == tls.fingerprint(cert_pem)
        assert peer.subject == "CN=edge-1"
        assert 9.9 < peer.days_left() <= 10
        assert peer.protocol in ("TLSv1.2", "TLSv1.3")
        ok = http_probe.get(f"https://127.0.0.1:{port}/", 3, str(d / tls.CA_CERT))
        assert ok.status == 200, ok.error
        # another CA (or the system store) does not trust it: no silent pass
        other = tls.ensure_ca(tmp_path / "other")
        with pytest.raises(ssl.SSLCertVerificationError):
            tls.handshake("edge-1", "127.0.0.1", port, ca_file=other)
        bad = http_probe.get(f"https://127.0.0.1:{port}/", 3, str(other))
        assert bad.status is None and bad.error.startswith("TLS certificate does not verify: ")
        assert http_probe.get(f"https://127.0.0.1:{port}/", 3).status is None


def test_wrong_address_fails_verification(tmp_path: Path) -> None:
    d = tmp_path / "tls"
    tls.write_pair(
        tmp_path / "e.crt", tmp_path / "e.key", *tls.issue(d, "e", addresses=["127.0.0.2"])
    )
    with (
        tls_server(tmp_path / "e.crt", tmp_path / "e.key") as port,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        tls.handshake("e", "127.0.0.1", port, ca_file=d / tls.CA_CERT)


def test_provision_edge_reissues_only_for_a_new_address(tmp_path: Path) -> None:
    d, edge = tmp_path / "tls", tmp_path / "edge"
    assert tls.provision_edge(d, "e", "127.0.0.5", edge)
    assert (edge / "current.crt").resolve() == (edge / "edge.crt").resolve()
    assert not tls.provision_edge(d, "e", "127.0.0.5", edge)
    assert tls.provision_edge(d, "e", "127.0.0.6", edge)


# Anything that turns verification off, in any spelling we know of.
_SKIPS = re.compile(
    r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    r"|InsecureRequestWarning|--insecure|validate_certs\s*:\s*(false|no)",
    re.IGNORECASE,
)


def test_no_code_path_skips_certificate_verification() -> None:
    hits = []
    for base in ("fleetctl", "playbooks", "scripts", "benchmarks"):
        for path in (ROOT / base).rglob("*"):
            if path.suffix not in (".py", ".yml", ".yaml", ".j2", ".sh"):
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if _SKIPS.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []


def test_player_and_cache_probes_verify_https(tmp_path: Path) -> None:
    from fleetctl.adapters import cache_probe, hls_client
    from fleetctl.core.policy import CacheGate, HlsPlaybackGate

    d = tmp_path / "tls"
    tls.write_pair(
        tmp_path / "e.crt", tmp_path / "e.key", *tls.issue(d, "e", addresses=["127.0.0.1"])
    )
    other = str(tls.ensure_ca(tmp_path / "other"))
    with tls_server(tmp_path / "e.crt", tmp_path / "e.key") as port:
        url = f"https://127.0.0.1:{port}"
        cfg = HlsPlaybackGate(enabled=True, sessions=1, timeout_s=3)
        (s,) = hls_client.sessions([hls_client.Edge("e", url, other)], cfg)
        # the verifier's reason reaches the gate (and `rollout why`)
        assert s.failure == "master: TLS certificate does not verify: " + (
            "unable to get local issuer certificate"
        )
        (s,) = hls_client.sessions([hls_client.Edge("e", url, str(d / tls.CA_CERT))], cfg)
        assert s.failure == "bad media playlist (no segments)"  # verified; "ok" is no playlist
        reads, problems = cache_probe.read(
            [hls_client.Edge("e", url, other)], CacheGate(enabled=True, timeout_s=3)
        )
        assert not reads and "TLS certificate does not verify" in problems[0]


def test_tls_cert_gate_checks_the_presented_fingerprint(tmp_path: Path) -> None:
    from fleetctl.core.gates import Verdict
    from fleetctl.core.planner import Host
    from fleetctl.core.policy import Policy
    from fleetctl.services.rollout.cert_gate import check

    d = tmp_path / "tls"
    served, key = tls.issue(d, "e", addresses=["127.0.0.1"])
    other, _ = tls.issue(d, "e", addresses=["127.0.0.1"])
    tls.write_pair(tmp_path / "e.crt", tmp_path / "e.key", served, key)
    policy = Policy.model_validate(
        {"gates": {"http": {"scheme": "https", "ca_file": str(d / tls.CA_CERT)}}}
    )
    with tls_server(tmp_path / "e.crt", tmp_path / "e.key") as port:
        edge = Host("e1", "r", "edge", address="127.0.0.1", port=port)
        ok = check([edge], policy, served.decode())
        assert ok.verdict is Verdict.PASS and ok.numbers["presented"]["e1"] == tls.fingerprint(
            served
        )
        bad = check([edge], policy, other.decode())
        assert bad.verdict is Verdict.FAIL and "e1" in bad.reason
        # a rollback to a bootstrap certificate: anything verified but the rolled-back one
        assert check([edge], policy, "", avoid_pem=other.decode()).verdict is Verdict.PASS
        assert check([edge], policy, "", avoid_pem=served.decode()).verdict is Verdict.FAIL
        other_ca = str(tls.ensure_ca(tmp_path / "other"))
        untrusted = Policy.model_validate(
            {"gates": {"http": {"scheme": "https", "ca_file": other_ca}}}
        )
        no = check([edge], untrusted, served.decode())
        assert no.verdict is Verdict.FAIL and "does not verify" in no.numbers["presented"]["e1"]
