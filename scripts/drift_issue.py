#!/usr/bin/env python3
"""Keep ONE GitHub issue in step with `fleetctl drift` (what .github/workflows/drift.yml runs).

    python scripts/drift_issue.py --env prod [--root .] [--label drift]

Runs `fleetctl drift --env ENV --format markdown`, then, through the GitHub REST API:
- drift found (exit 2): open an issue with the label, or update the open one found by
  the label (its body only changes when the report does);
- no drift (exit 0): close the open issue, with a comment saying so;
- anything else (bad input 2 without a report, AWS unreachable 3): touch no issue and
  exit with fleetctl's code: an outage is not "no drift".

Environment (GitHub Actions sets all but the token): GITHUB_TOKEN (never printed),
GITHUB_REPOSITORY (owner/name), GITHUB_API_URL (default https://api.github.com; the
tests point it at a server on 127.0.0.1), and optionally GITHUB_SERVER_URL + GITHUB_RUN_ID
(a link to the run) and GITHUB_STEP_SUMMARY (the report is appended to it).
Exit codes: 0 the issue is in step, 2 bad input, 3 fleetctl or the GitHub API failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

TITLE = "Drift: {env} differs from the spec"
EXIT_BAD_INPUT = 2
EXIT_OUTSIDE = 3
NO_DRIFT, DRIFT = 0, 2


class Failure(Exception):
    def __init__(self, message: str, code: int = EXIT_OUTSIDE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GitHub:
    """The few issue calls this needs, over urllib (no client library to install in CI)."""

    api: str
    repo: str
    token: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.api.rstrip('/')}/repos/{self.repo}{path}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("X-GitHub-Api-Version", "2022-11-28")
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise Failure(f"GitHub API {method} {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Failure(f"GitHub API {method} {path}: {exc}") from None
        return json.loads(raw) if raw else None

    def open_issues(self, label: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(
            {
                "labels": label,
                "state": "open",
                "per_page": 100,
                "sort": "created",
                "direction": "asc",
            }
        )
        issues = self.call("GET", f"/issues?{query}") or []
        # The issues endpoint also lists pull requests.
        return [i for i in issues if "pull_request" not in i]


def run_drift(root: str, env: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetctl",
            "--root",
            root,
            "drift",
            "--env",
            env,
            "--format",
            "markdown",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def run_link() -> str:
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""


def sync(gh: GitHub, env: str, label: str, code: int, report: str) -> str:
    """Open, update or close the one issue; returns what was done, for the log."""
    issues = gh.open_issues(label)
    issue = issues[0] if issues else None  # the oldest: later duplicates are left to people
    link = run_link()
    if code == NO_DRIFT:
        if issue is None:
            return "no drift; no open drift issue"
        note = "No drift any more" + (f" (checked in {link})" if link else "") + ": closing."
        gh.call("POST", f"/issues/{issue['number']}/comments", {"body": note})
        gh.call(
            "PATCH", f"/issues/{issue['number']}", {"state": "closed", "state_reason": "completed"}
        )
        return f"no drift; closed issue #{issue['number']}"
    body = report + (f"\n_Last checked in {link}_\n" if link else "")
    if issue is None:
        made = gh.call(
            "POST", "/issues", {"title": TITLE.format(env=env), "body": body, "labels": [label]}
        )
        return f"drift; opened issue #{made['number']}"
    if (issue.get("body") or "").strip() == body.strip():
        return f"drift; issue #{issue['number']} already shows this report"
    gh.call("PATCH", f"/issues/{issue['number']}", {"body": body})
    return f"drift; updated issue #{issue['number']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the env to check, e.g. prod")
    parser.add_argument("--root", default=".", help="the fleetctl project (default: .)")
    parser.add_argument("--label", default="drift", help="the label that finds the issue")
    args = parser.parse_args(argv)
    token, repo = os.environ.get("GITHUB_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
    if not token or not repo:
        print(
            "error: GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name) must be set\n"
            "hint: in a workflow: env: {GITHUB_TOKEN: ${{ github.token }}}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    gh = GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"), repo, token)

    code, report, err = run_drift(args.root, args.env)
    if code not in (NO_DRIFT, DRIFT) or not report.strip():
        # fleetctl's own error (bad input, AWS unreachable): no issue changes.
        sys.stderr.write(err)
        print(f"error: fleetctl drift exited {code}; no issue was changed", file=sys.stderr)
        return code or EXIT_OUTSIDE
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report)
    try:
        print(sync(gh, args.env, args.label, code, report))
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
