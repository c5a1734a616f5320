"""Bad flags and files for the commands of the last sessions (worker, event,
preview merge, --notify, --secret-var, video gates): exit 2 naming what is wrong,
before anything acts, never a traceback, never a secret in the output."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetctl.cli.main import app

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__")
    for d in ("stacks", "inventories", "examples", "rollout-policies", "playbooks"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=ignore)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def invoke(proj: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["--root", str(proj), "--state", str(proj / "s.db"), *args])
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r.exit_code, out


# -- worker ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "region", "known"),
    [("prod", "mars-1", "eu-west-1"), ("lab", "lab-east", "lab-mid")],
)
def test_worker_unknown_region_is_exit_2_before_any_connection(
    proj: Path, env: str, region: str, known: str
) -> None:
    with socket.socket() as server:  # a "Temporal server" that must never see a connection
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        code, out = invoke(
            proj, "worker", "--env", env, "--region", region, "--temporal", f"127.0.0.1:{port}"
        )
        with pytest.raises(BlockingIOError):
            server.accept()
    assert code == 2, out
    assert f"--region {region}" in out and known in out


# -- preview merge --------------------------------------------------------------------------


def shard_doc(k: int, n: int, **over: object) -> dict[str, object]:
    from fleetctl import __version__
    from fleetctl.services.preview_shard import KIND, VERSION

    doc: dict[str, object] = {
        "kind": KIND,
        "version": VERSION,
        "fleetctl_version": __version__,
        "shard": [k, n],
        "options": {"env": "prod", "stacks": [], "base": None, "prices": None, "policy": True},
        "fingerprint_key_id": "k1",
        "stacks": [],
        "entries": {},
    }
    return {**doc, **over}


@pytest.mark.parametrize(
    ("docs", "text"),
    [
        ([shard_doc(1, 2, shard="x"), shard_doc(2, 2)], "not [K, N]"),
        ([shard_doc(1, 2, shard=[0, 2]), shard_doc(2, 2)], "not [K, N]"),
        ([shard_doc(1, 0)], "not [K, N]"),
        ([shard_doc(1, 1, entries=[])], "`entries`"),
        ([shard_doc(1, 1, options=None)], "`options`"),
        ([[1, 2]], "not a fleetctl preview shard"),
        ([shard_doc(1, 2), shard_doc(1, 2)], "shard 1/2 given twice"),
        ([shard_doc(1, 3), shard_doc(1, 3), shard_doc(3, 3)], "given twice"),
        ([shard_doc(1, 2)], "shard(s) 2/2 missing"),
        ([shard_doc(1, 2), shard_doc(2, 2, fingerprint_key_id="k2")], "fingerprint key id"),
    ],
)
def test_preview_merge_refuses_broken_duplicated_or_missing_shards(
    proj: Path, docs: list[object], text: str
) -> None:
    import json

    files = []
    for i, doc in enumerate(docs):
        f = proj / f"shard-{i}.json"
        f.write_text(json.dumps(doc), encoding="utf-8")
        files.append(str(f))
    code, out = invoke(proj, "preview", "merge", *files)
    assert code == 2, out
    assert text in out.replace("\n", " ")


@pytest.mark.parametrize("content", [b'{"kind": "fleetctl-pre', b"\xff\xfe{}", b""])
def test_preview_merge_truncated_or_binary_file_is_exit_2(proj: Path, content: bytes) -> None:
    f = proj / "shard-1.json"
    f.write_bytes(content)
    code, out = invoke(proj, "preview", "merge", str(f))
    assert code == 2, out
    assert "cannot read shard output" in out and "shard-1.json" in out


# -- --notify URLs ----------------------------------------------------------------------------

SECRET = "T0KENxSECRETx9"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/" + SECRET, "must start with https:// or http://"),
        ("javascript:" + SECRET, "must start with https:// or http://"),
        ("http://", "no host"),
        ("http:///" + SECRET, "no host"),
        ("http://[::1/" + SECRET, "malformed"),
        ("http://127.0.0.1:99999/" + SECRET, "malformed"),
        ("http://127.0.0.1:port/" + SECRET, "malformed"),
        ("http://127.0.0.1:0/" + SECRET, "port is 0"),
        (f"http://bot:{SECRET}@127.0.0.1:9/x", "user:password@"),
        (f"http://127.0.0.1:9/{SECRET} x", "spaces or control"),
        (f"http://127.0.0.1:9/{SECRET}\r\nX: y", "spaces or control"),
    ],
)
def test_bad_notify_urls_are_exit_2_before_the_rollout_and_never_echoed(
    proj: Path, url: str, why: str
) -> None:
    code, out = invoke(
        proj, "rollout", "start", "edge.yml", "--env", "staging", "--notify", url, "--yes"
    )
    assert code == 2, out
    assert why in out.replace("\n", " ")
    assert SECRET not in out
    assert not (proj / "s.db").exists() or SECRET.encode() not in (proj / "s.db").read_bytes()


def test_a_delivery_error_never_quotes_a_piece_of_the_url() -> None:
    import http.client

    from fleetctl.services.notify import _error_text

    url = f"https://hooks.example.test/services/T000/{SECRET}?token={SECRET}2"
    for exc in (
        http.client.InvalidURL(f"URL can't contain control characters. '/services/T000/{SECRET}'"),
        ValueError(f"bad query token={SECRET}2 in hooks.example.test"),
        OSError(f"failed for {url}"),
    ):
        text = _error_text(exc, url)
        assert SECRET not in text and "hooks.example.test" not in text, text


# -- --secret-var -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "spec", "text"),
    [
        (b"caf\xe9 " + SECRET.encode(), "DB_PASSWORD=@{f}", "is not UTF-8 text"),
        (SECRET.encode() + b"\x00x", "DB_PASSWORD=@{f}", "contains a NUL byte"),
        (b"", "DB_PASSWORD=@", "no file after @"),
        (b"", "DB_PASSWORD=@{d}", "cannot read"),
        (b"", "DB_PASSWORD=@{f}", "is empty"),
        (b"", "DB_PASSWORD", "no value for secret var DB_PASSWORD"),
        (b"", "=@{f}", "bad --secret-var"),
        (b"", "caf\u00e9", "bad --secret-var"),  # Ansible takes ASCII names only
        (b"", "class", "bad --secret-var"),
        (b"", f"DB_PASSWORD={SECRET}", "bad --secret-var 'DB_PASSWORD'"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        ["rollout", "start", "edge.yml", "--env", "staging", "--yes"],
        ["worker", "--env", "prod", "--region", "eu-west-1", "--temporal", "127.0.0.1:9"],
    ],
)
def test_bad_secret_vars_are_exit_2_and_never_show_the_value(
    proj: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    content: bytes,
    spec: str,
    text: str,
) -> None:
    monkeypatch.delenv("FLEETCTL_SECRET_DB_PASSWORD", raising=False)
    f = proj / "secret.txt"
    f.write_bytes(content)
    (proj / "adir").mkdir()
    arg = spec.format(f=f, d=proj / "adir")
    code, out = invoke(proj, *command, "--secret-var", arg)
    assert code == 2, out
    assert text in out
    assert SECRET not in out


# -- gate config in the rollout policy --------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml", "line", "key"),
    [
        ("gates:\n  hls_playback:\n    enabled: 'yes'\n", 3, "gates.hls_playback.enabled"),
        ("gates:\n  hls_playback:\n    sessions: '5'\n", 3, "gates.hls_playback.sessions"),
        ("gates:\n  hls_playback:\n    sessions: 2.5\n", 3, "gates.hls_playback.sessions"),
        (
            "gates:\n  hls_playback:\n    max_startup_p95_s: .inf\n",
            3,
            "gates.hls_playback.max_startup_p95_s",
        ),
        ("gates:\n  cache:\n    enabled: 1\n", 3, "gates.cache.enabled"),
        ("gates:\n  cache:\n    min_hit_ratio: .nan\n", 3, "gates.cache.min_hit_ratio"),
        ("gates:\n  slo_burn:\n    window_scale: '0.5'\n", 3, "gates.slo_burn.window_scale"),
        ("gates:\n  slo_burn:\n    slo: 1.5\n", 3, "gates.slo_burn.slo"),
        ("gates:\n  http:\n    max_p95_ms: .inf\n", 3, "gates.http.max_p95_ms"),
        ("gates:\n  http:\n    scheme: ftp\n", 3, "gates.http.scheme"),
        ("gates:\n  http:\n    expect_status: [200, 999]\n", 3, "gates.http.expect_status[1]"),
        ("gates:\n  http:\n    expect_status: []\n", 3, "gates.http.expect_status"),
        ("gates:\n  qoe:\n    enabled: true\n", 2, "gates.qoe"),
        (
            f"gates:\n  slo_burn:\n    enabled: true\n    url: http://u:{SECRET}@127.0.0.1:9090\n",
            4,
            "gates.slo_burn.url",
        ),
        ("gates:\n  prometheus:\n    url: 'http://127.0.0.1:99999'\n", 3, "gates.prometheus.url"),
        ("gates:\n  prometheus:\n    url: 'file:///etc/passwd'\n", 3, "gates.prometheus.url"),
    ],
)
def test_bad_gate_config_is_exit_2_with_file_line_and_key(
    proj: Path, yaml: str, line: int, key: str
) -> None:
    policy = proj / "policy.yml"
    policy.write_text(yaml, encoding="utf-8")
    code, out = invoke(
        proj, "rollout", "plan", "edge.yml", "--env", "staging", "--policy", str(policy)
    )
    assert code == 2, out
    assert f"policy.yml:{line}: {key}" in out.replace("\n", " ")
    assert SECRET not in out


# -- event ------------------------------------------------------------------------------------

PLAN = ["event", "plan", "--env", "prod", "--no-preview", "--start", "2026-12-20T18:00:00Z",
        "--end", "2099-12-20T21:00:00Z"]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "text"),
    [
        (["--peak-gbps", "1e308"], "--peak-gbps"),
        (["--peak-gbps", "inf"], "--peak-gbps"),
        (["--peak-gbps", "2e6"], "<= 1e+06"),
        # within the flag's range, but more edge nodes than the spec's schema allows
        (["--peak-gbps", "50000", "--regions", "eu-central-1"], "nodes_per_zone 5715 (limit 500)"),
    ],
)
def test_event_plan_refuses_peaks_no_spec_can_take(proj: Path, extra: list[str], text: str) -> None:
    code, out = invoke(proj, *PLAN, "--name", "big", *extra)
    assert code == 2, out
    assert text in out.replace("\n", " ")
    code, out = invoke(proj, "event", "list", "--format", "json")
    assert out.strip().endswith("[]")  # nothing recorded


@pytest.mark.parametrize("where", ["missing-dir/x.patch", "adir", ""])
def test_event_start_with_a_bad_out_changes_nothing(proj: Path, where: str) -> None:
    code, out = invoke(proj, *PLAN, "--name", "cup", "--peak-gbps", "100", "--regions",
                       "eu-central-1")  # fmt: skip
    assert code == 0, out
    (proj / "adir").mkdir()
    code, out = invoke(proj, "event", "start", "cup", "--out", str(proj / where))
    assert code == 2, out
    assert "--out" in out
    code, out = invoke(proj, "freeze", "status", "--env", "prod")
    assert "not frozen" in out, out  # the bad flag was found before the freeze was set
    code, out = invoke(proj, "event", "list", "--format", "json")
    assert '"phase": "planned"' in out


@pytest.mark.parametrize(
    "args",
    [
        ["preview", "--env", "prod", "--out", "{p}/nodir/x.md"],
        ["preview", "--env", "prod", "--out", "{p}"],
        ["preview", "--env", "prod", "--save-snapshot", "{p}/nodir/s.json"],
        ["rollout", "report", "r-1", "--out", "{p}/nodir/r.html"],
    ],
)
def test_output_files_are_checked_before_the_work(proj: Path, args: list[str]) -> None:
    code, out = invoke(proj, *[a.format(p=proj) for a in args])
    assert code == 2, out
    assert "--out" in out or "--save-snapshot" in out
    assert "no directory" in out or "is a directory" in out


# -- drift --format markdown, read by a real GFM renderer --------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "x` <img src=x onerror=alert(1)> **bold** `y",
        "``double`` <b>b</b>",
        "`",
        "a|b` | <i>cell</i>",
        "line\r\n<script>alert(1)</script>",
    ],
)
def test_drift_markdown_keeps_hostile_aws_values_inside_their_cell(value: str) -> None:
    import html
    import re

    from fleetctl.cli.drift import render_markdown
    from fleetctl.core.drift import DriftItem, DriftReport, PropChange

    cmark = shutil.which("cmark-gfm")
    if cmark is None:
        pytest.skip("cmark-gfm is not installed (apt-get install cmark-gfm)")
    item = DriftItem(
        "changed",
        "bucket",
        "b",
        "qa-us-east-1",
        "us-east-1",
        (PropChange("tags.team", "ok", value),),
    )
    md = render_markdown(DriftReport(("qa-us-east-1",), 1, (item,)))
    out = subprocess.run(
        [cmark, "--extension", "table"], input=md, capture_output=True, text=True, check=True
    ).stdout
    out = out[out.index("<table>") :]  # the summary line above has its own bold
    rows = re.findall(r"<tr>(.*?)</tr>", out, re.S)
    cells = re.findall(r"<td>(.*?)</td>", rows[-1], re.S)
    assert len(cells) == 7, out  # no cell split off or swallowed
    assert all(c == "" or (c.startswith("<code>") and c.endswith("</code>")) for c in cells), out
    # the value comes back whole, as text: no tag of it became HTML
    shown = html.unescape(re.sub(r"</?code>", "", cells[-1]))
    assert shown.strip() == value.replace("\r\n", "  ").strip()
    assert "<img" not in out and "<strong>" not in out and "<script" not in out


# -- --state and error rendering ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code", "text"),
    [
        ("s3://b@d/x", 2, "not an S3 state URL"),  # was botocore's regexes, exit 3
        ("http://127.0.0.1:9/x", 2, "not a state backend"),
        ("file:///tmp/x.db", 2, "not a state backend"),
    ],
)
def test_bad_state_urls_are_exit_2(proj: Path, state: str, code: int, text: str) -> None:
    for args in (["event", "list"], ["freeze", "status", "--env", "prod"]):
        r = CliRunner().invoke(app, ["--root", str(proj), "--state", state, *args])
        out = r.stdout + r.stderr
        assert r.exit_code == code, out
        assert text in out and "Traceback" not in out
    assert not (proj / "http:").exists() and not (proj / "file:").exists()


def test_an_error_quoting_square_brackets_is_printed_as_text(proj: Path) -> None:
    # Rich read "[/x]" in a message as a closing tag and raised MarkupError.
    d = proj / "[/x]"
    code, out = invoke(proj, "preview", "merge", str(proj / "[bold]-[/].json"), str(d))
    assert code == 2, out
    code, out = invoke(proj, "capacity", "--demand", str(proj / "[/]d.yaml"))
    assert code == 2 and "[/]d.yaml" in out.replace("\n", ""), out


@pytest.mark.parametrize(
    ("start", "end", "extra", "flag"),
    [
        ("2026-12-20T18:00:00Z", "2026-12-20T21:00:00Z", ["--cert-margin-days", "inf"],
         "--cert-margin-days"),
        ("2026-12-20T18:00:00Z", "2026-12-20T21:00:00Z", ["--freeze-margin", "99999999h"],
         "--freeze-margin"),
        ("0001-01-01T00:00:00Z", "2026-12-20T21:00:00Z", [], "--start"),  # minus the freeze margin
        ("2026-12-20T18:00:00Z", "9999-12-31T23:59:59Z", [], "--end"),  # plus the cert margin
        ("2026-12-20T18:00:00+14:00", "2026-12-20T04:00:00Z", [], "--end"),  # before, in UTC
        ("2026-12-20T18:00:00", "2026-12-20T21:00:00Z", [], "no zone"),
        ("20.12.2026 18:00", "2026-12-20T21:00:00Z", [], "not an ISO 8601 time"),
    ],
)  # fmt: skip
def test_event_plan_times_out_of_range_are_exit_2_not_an_overflow(
    proj: Path, start: str, end: str, extra: list[str], flag: str
) -> None:
    code, out = invoke(proj, "event", "plan", "--env", "prod", "--no-preview", "--name", "x",
                       "--peak-gbps", "10", "--start", start, "--end", end, *extra)  # fmt: skip
    assert code == 2, out
    assert flag in out


def test_metrics_serve_port_in_use_is_exit_3(proj: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out = invoke(proj, "metrics", "serve", "--env", "prod", "--port", str(port),
                           "--duration", "1")  # fmt: skip
    assert code == 3, out
    assert f"cannot listen on 127.0.0.1:{port}" in out


def test_a_very_long_event_name_is_refused_without_echoing_all_of_it(proj: Path) -> None:
    code, out = invoke(proj, "event", "start", "a" * 5000)
    assert code == 2, out
    assert "5000 characters" in out and "a" * 100 not in out


@pytest.mark.parametrize(
    "address",
    ["http://127.0.0.1:7233", "a b:7233", "127.0.0.1:1:2", "[zz]:1", "127.0.0.1:", ":7233",
     "127.0.0.1:0", "127.0.0.1:65536", "host_name:7233"],
)  # fmt: skip
def test_worker_bad_temporal_address_is_exit_2(proj: Path, address: str) -> None:
    code, out = invoke(proj, "worker", "--env", "prod", "--region", "eu-west-1",
                       "--temporal", address)  # fmt: skip
    assert code == 2, out
    assert "is not host:port" in out and "--temporal" in out


@pytest.mark.parametrize("address", ["127.0.0.1:7233", "[::1]:7233", "temporal.internal:7233"])
def test_good_temporal_addresses_are_taken_as_they_are(address: str) -> None:
    from fleetctl.adapters.temporal import parse_address

    assert parse_address(f" {address} ") == address


@pytest.mark.parametrize("field", ["url_env", "url_file"])
def test_a_webhook_url_pasted_into_the_policy_is_refused_unquoted(proj: Path, field: str) -> None:
    policy = proj / "policy.yml"
    url = f"https://hooks.example.test/services/{SECRET}"
    policy.write_text(f"notify:\n  - name: team\n    {field}: '{url}'\n", encoding="utf-8")
    code, out = invoke(
        proj, "rollout", "plan", "edge.yml", "--env", "staging", "--policy", str(policy)
    )
    assert code == 2, out
    assert f"policy.yml:3: notify[0].{field}" in out.replace("\n", " ")
    assert SECRET not in out


@pytest.mark.parametrize("regions", ["", " , ,"])
def test_event_plan_empty_regions_is_not_all_regions(proj: Path, regions: str) -> None:
    code, out = invoke(proj, *PLAN, "--name", "x", "--peak-gbps", "10", "--regions", regions)
    assert code == 2, out
    assert "--regions" in out and "names no region" in out


def test_slack_payload_escapes_what_people_and_gates_wrote() -> None:
    import json

    from fleetctl.core.policy import NotifyEvent
    from fleetctl.services.notify import Notification, slack_payload

    why = "promoted: <!channel> look at <https://evil.test|the dashboard> & fix"
    n = Notification(NotifyEvent.paused, "r-1", "prod", "abc", "canary", "pause", why, {})
    text = json.dumps(slack_payload(n))
    assert "<!channel>" not in text and "<https://evil.test|" not in text
    assert "&lt;!channel&gt;" in text and "&amp; fix" in text


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"https://hooks.example.test/" + SECRET.encode() + b"\xff", "not UTF-8 text"),
        (b"https://hooks.example.test/" + SECRET.encode() + b" x", "spaces or control"),
        (b"", "is empty"),
    ],
)
def test_a_bad_notify_url_file_is_exit_2_unquoted(proj: Path, content: bytes, text: str) -> None:
    (proj / "hook.url").write_bytes(content)
    policy = proj / "policy.yml"
    policy.write_text("notify:\n  - name: team\n    url_file: hook.url\n", encoding="utf-8")
    code, out = invoke(proj, "rollout", "start", "edge.yml", "--env", "staging", "--yes",
                       "--policy", str(policy))  # fmt: skip
    assert code == 2, out
    assert text in out and SECRET not in out


@pytest.mark.parametrize("flag", ["--temporal-tls-ca", "--temporal-tls-cert"])
def test_a_tls_file_that_is_not_pem_is_exit_2_before_connecting(proj: Path, flag: str) -> None:
    f = proj / "not.pem"
    f.write_bytes(b"\xffgarbage " + SECRET.encode())
    args = [flag, str(f)]
    if flag == "--temporal-tls-cert":
        args += ["--temporal-tls-key", str(f)]
    code, out = invoke(proj, "worker", "--env", "prod", "--region", "eu-west-1",
                       "--temporal", "127.0.0.1:9", *args)  # fmt: skip
    assert code == 2, out
    assert "not a PEM file" in out and SECRET not in out
