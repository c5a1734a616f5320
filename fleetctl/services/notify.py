"""Rollout notifications: journal events -> webhooks, in a background thread.

The engine calls `Notifier.submit(doc, event)` after it journals each event
(`Engine(notify=...)`). The few events people care about become a
`Notification` (started, canary passed, gate failed, paused, approval needed,
rolled back, completed) queued for each target that wants that kind. A worker
thread posts them with retries and backoff; the queue is bounded, so a dead
webhook never holds memory or the rollout. What could not be delivered (retries
exhausted, queue full, still queued at close) is journaled as `notify_failed`
from the engine's own thread, at the next event or at `close()`.

Webhook URLs are secrets: a `Target` never shows its URL (not in repr, not in
the journal, not in errors); the journal names the target and a keyed
fingerprint of the URL, enough to tell two targets apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fleetctl.core.policy import NotifyEvent, NotifyTarget
from fleetctl.core.rollout import events
from fleetctl.errors import BadInput

SCHEMA = "fleetctl.notify/v1"
QUEUE_SIZE = 100
ATTEMPTS = 4
BACKOFF_S = 0.5  # then 1 s, 2 s
TIMEOUT_S = 5.0
CLOSE_WAIT_S = 10.0  # at the end of a run, how long deliveries may still take
_FINGERPRINT_KEY = b"fleetctl webhook fingerprint v1"

Journal = Callable[[str, dict[str, Any]], None]


def fingerprint(url: str) -> str:
    """A short keyed hash of a webhook URL: tells targets apart, reveals nothing usable."""
    return hmac.new(_FINGERPRINT_KEY, url.encode(), hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class Target:
    name: str
    url: str = field(repr=False)
    format: str = "json"  # "slack" | "json"
    events: frozenset[NotifyEvent] = frozenset(NotifyEvent)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.url)

    def label(self) -> dict[str, str]:
        return {"target": self.name, "fingerprint": self.fingerprint}


def resolve(targets: Iterable[NotifyTarget], base: Path) -> list[Target]:
    """The policy's targets with their URLs read from the env var or file they name."""
    out = []
    for t in targets:
        if t.url_env is not None:
            url = os.environ.get(t.url_env, "").strip()
            where = f"env var {t.url_env}"
        else:
            path = Path(t.url_file or "")
            path = path if path.is_absolute() else base / path
            try:
                url = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                # Never the decoder's message: it quotes bytes of the file (the URL).
                why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise BadInput(
                    f"notify target {t.name!r}: cannot read its URL from {path}: {why}",
                    hint="write the webhook URL into that file (mode 600), or use url_env",
                ) from None
            where = str(path)
        if not url:
            raise BadInput(
                f"notify target {t.name!r}: {where} is empty or not set",
                hint=f"set {where} to the webhook URL, or remove the target from the policy",
            )
        _check_url(url, t.name)
        out.append(Target(t.name, url, t.format, frozenset(t.events)))
    return out


def cli_targets(urls: Iterable[str], fmt: str) -> list[Target]:
    """`--notify URL` (one run only): named cli-1, cli-2..."""
    out = []
    for i, url in enumerate(urls, 1):
        _check_url(url, f"--notify #{i}")
        out.append(Target(f"cli-{i}", url, fmt))
    return out


def url_problem(url: str) -> str | None:
    """What makes `url` unusable as a webhook, in words that never quote it (it is
    a secret), or None. Checked before a rollout starts: a URL urllib would choke
    on mid-rollout makes an error text that may quote a piece of it."""
    import urllib.parse

    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "it contains spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # ValueError: not a number or out of 0..65535
    except ValueError:
        return "its host or port is malformed"
    if parts.scheme.lower() not in ("https", "http"):
        return "it must start with https:// or http://"
    if parts.username is not None or parts.password is not None:
        return "it carries user:password@ (not supported: put the token in the path)"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "its port is 0"
    return None


def _check_url(url: str, name: str) -> None:
    problem = url_problem(url)
    if problem is not None:
        raise BadInput(
            f"notify target {name}: the webhook URL is not usable: {problem} "
            "(not shown: it is a secret)",
            hint="check the env var, file or --notify value",
        )


# -- what an event means to people -------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    kind: NotifyEvent
    rollout: str
    env: str
    release: str
    step: str
    verdict: str
    why: str  # the `rollout why` line that mattered
    event: dict[str, Any]

    def title(self) -> str:
        icon = {
            NotifyEvent.started: "▶",
            NotifyEvent.canary_passed: "✅",
            NotifyEvent.gate_failed: "❌",
            NotifyEvent.paused: "⏸",
            NotifyEvent.approval_needed: "✋",
            NotifyEvent.rolled_back: "↩",
            NotifyEvent.completed: "✅",
        }[self.kind]
        return f"{icon} rollout {self.kind.value.replace('_', ' ')}: {self.env}"


_WAITS_FOR = {
    "gate": "a person: `rollout promote` (accept the step) or `rollout abort`",
    "approval": "an approval: `rollout promote` or a signed approval (`approvals serve`)",
    "unreachable": "the hosts fixed and `rollout resume`, or `rollout promote` without them",
    "freeze": "`freeze off`, then `rollout resume`",
    "window": "the region's deploy window, then `rollout resume`",
}


@dataclass
class _Context:
    """What one rollout's notifications need that a single event does not carry."""

    targets: list[Target] = field(default_factory=list)
    step: str = "-"
    proof: str = ""


def classify(doc: dict[str, Any], ev: dict[str, Any], ctx: _Context) -> Notification | None:
    """The notification for a journal event, or None for events people need not hear of."""
    t = ev.get("type")
    if t == "step_started":
        ctx.step = str(ev.get("label", "-"))
        return None
    if t == "rollback_proof":
        ctx.proof = _proof_text(ev)
        return None
    kind: NotifyEvent | None = None
    verdict, why = "-", ""
    if t == "created":
        kind = NotifyEvent.started
        why = (
            f"release {ev.get('release')} of {ev.get('playbook')} on {ev.get('hosts')} host(s) "
            f"in {ev.get('steps')} step(s), started by {ev.get('by')}"
        )
    elif t == "step_finished" and ev.get("label") == "canary":
        kind, verdict = NotifyEvent.canary_passed, "pass"
        why = "canary passed its gates" + (" (promoted by hand)" if ev.get("promoted") else "")
    elif t == "gate" and str(ev.get("verdict", "")).lower() == "fail":
        kind, verdict = NotifyEvent.gate_failed, "fail"
        phase = ev.get("phase", "step")
        why = f"{phase} gate {ev.get('gate')}: FAIL {ev.get('reason', '')}".strip()
    elif t == "paused":
        pause_kind = str(ev.get("kind", ""))
        kind = NotifyEvent.approval_needed if pause_kind == "approval" else NotifyEvent.paused
        verdict = "inconclusive" if pause_kind == "gate" else "waiting"
        waits = _WAITS_FOR.get(pause_kind, "a person")
        why = f"{ev.get('reason', '')}; waits for {waits}"
        ctx.step = str(ev.get("label", ctx.step))
    elif t == "window_wait":
        kind, verdict = NotifyEvent.paused, "waiting"
        why = (
            f"waiting for {ev.get('region')} window ({ev.get('window')}), opens "
            f"{ev.get('opens')}; goes on by itself when it opens"
        )
        ctx.step = str(ev.get("label", ctx.step))
    elif t in ("rolled_back", "rollback_failed", "rollback_unproven"):
        kind, verdict = NotifyEvent.rolled_back, t.replace("_", " ")
        why = str(ev.get("message", "")) + (f"; proof: {ctx.proof}" if ctx.proof else "")
    elif t == "completed":
        kind, verdict = NotifyEvent.completed, "pass"
        why = f"release {ev.get('release')} on {ev.get('hosts')} host(s); now last known-good"
    if kind is None:
        return None
    return Notification(
        kind=kind,
        rollout=str(doc.get("id", "")),
        env=str(doc.get("env", "")),
        release=str(doc.get("release_id") or doc.get("release") or "-"),
        step=ctx.step,
        verdict=verdict,
        why=why,
        event=ev,
    )


def _proof_text(ev: dict[str, Any]) -> str:
    """The rollback proof in one line, as `rollout why` shows it."""
    if not ev.get("ok"):
        return "NOT PROVEN" + (f" ({ev['error']})" if ev.get("error") else "")
    gates = ", ".join(f"{g} {v}" for g, v in (ev.get("gates") or {}).items())
    return (
        f"PROVEN: {ev.get('release')} re-applied on {ev.get('hosts')} host(s), --check --diff "
        f"{ev.get('check_changed')} changed" + (f", gates {gates}" if gates else "")
    )


def _slack_text(text: str) -> str:
    """Slack's mrkdwn escaping (&, <, >): a reason or a gate's text never becomes
    a <!channel> ping or a disguised <url|link> [Slack: formatting, escaping]."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(n: Notification) -> dict[str, Any]:
    """Slack's incoming-webhook JSON: a `text` fallback and blocks."""
    n = replace(
        n,
        **{
            k: _slack_text(getattr(n, k))
            for k in ("why", "env", "release", "step", "verdict", "rollout")
        },
    )
    fields = [("env", n.env), ("release", n.release), ("step", n.step), ("verdict", n.verdict)]
    return {
        "text": f"{n.title()} — {n.why}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": n.title()}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*why:* {n.why}"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"rollout `{n.rollout}` · `fleetctl rollout why {n.rollout}`",
                    }
                ],
            },
        ],
    }


def json_payload(n: Notification) -> dict[str, Any]:
    """The generic event: the journal's typed event with the rollout it belongs to."""
    return {
        "schema": SCHEMA,
        "kind": n.kind.value,
        "rollout": n.rollout,
        "env": n.env,
        "release": n.release,
        "step": n.step,
        "verdict": n.verdict,
        "why": n.why,
        "event": n.event,
    }


def payload(target: Target, n: Notification) -> bytes:
    body = slack_payload(n) if target.format == "slack" else json_payload(n)
    return json.dumps(body, default=str, sort_keys=True).encode()


# -- delivery -----------------------------------------------------------------------------


def post(url: str, body: bytes, timeout: float = TIMEOUT_S) -> None:
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", "fleetctl-notify")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


def _error_text(exc: BaseException, url: str) -> str:
    """The delivery error for the journal, with no part of the URL in it: a library's
    message may quote the path or query alone (where a webhook keeps its token)."""
    import urllib.parse

    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code}"
    elif isinstance(exc, urllib.error.URLError):
        text = f"{type(exc.reason).__name__}: {exc.reason}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = text.replace(url, "<webhook url>")
    try:
        p = urllib.parse.urlsplit(url)
        pieces = [p.path, p.query, p.fragment, p.netloc, *p.path.split("/"), *p.query.split("&")]
    except ValueError:
        pieces = []
    # Longest first, so a path is hidden whole before its segments are; short
    # pieces ('v1', 'x') would hide ordinary words and are no secret on their own.
    for piece in sorted({x for x in pieces if len(x) >= 6}, key=len, reverse=True):
        text = text.replace(piece, "<webhook url part>")
    return text


@dataclass
class _Job:
    target: Target
    notification: Notification


class Notifier:
    """Deliver notifications in a background thread; journal the undeliverable ones.

    `journal(rollout_id, event)` is only called from the thread that calls
    `submit` and `close` (the engine's), so a store need not be thread-safe.
    """

    def __init__(
        self,
        targets: list[Target],
        journal: Journal,
        *,
        base: Path | None = None,
        queue_size: int = QUEUE_SIZE,
        attempts: int = ATTEMPTS,
        backoff_s: float = BACKOFF_S,
        timeout_s: float = TIMEOUT_S,
        sender: Callable[[str, bytes, float], None] = post,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.targets = targets  # for every rollout (--notify); the policy's are added per rollout
        self.base = base  # where a policy's url_file paths are relative to
        self.journal = journal
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.sender = sender
        self.sleep = sleep
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._failed: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._contexts: dict[str, _Context] = {}
        self._ctx_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.delivered = 0

    def __call__(self, doc: dict[str, Any], ev: dict[str, Any]) -> None:
        self.submit(doc, ev)

    def submit(self, doc: dict[str, Any], ev: dict[str, Any]) -> None:
        """Queue what this event means for each target; never blocks, never raises."""
        try:
            self._flush_failures()
            rid = str(doc.get("id", ""))
            with self._ctx_lock:  # a worker submits from several activity threads
                ctx = self._contexts.get(rid)
                if ctx is None:
                    ctx = self._contexts[rid] = self._context(rid, doc)
            if not ctx.targets:
                return
            n = classify(doc, ev, ctx)
            if n is None:
                return
            self._start()
            for target in ctx.targets:
                if n.kind not in target.events:
                    continue
                try:
                    self._queue.put_nowait(_Job(target, n))
                except queue.Full:
                    self._failure(target, n, 0, "queue full: notifications are not keeping up")
        except Exception as exc:  # a notification must never fail the rollout
            self._failure(None, None, 0, f"internal error: {type(exc).__name__}")

    def _context(self, rid: str, doc: dict[str, Any]) -> _Context:
        """The rollout's targets: --notify ones and its policy's (URLs read now, never stored)."""
        from fleetctl.core.policy import Policy

        targets = list(self.targets)
        notes: list[dict[str, Any]] = []
        try:
            policy = Policy.model_validate(doc.get("policy") or {})
            targets += resolve(policy.notify, self.base or Path.cwd())
        except BadInput as exc:
            notes.append(events.NotifyFailed(at=time.time(), error=exc.message).to_dict())
        except Exception as exc:
            notes.append(events.NotifyFailed(at=time.time(), error=type(exc).__name__).to_dict())
        if targets:
            notes.append(
                events.NotifyTargets(
                    at=time.time(), targets=[{**t.label(), "format": t.format} for t in targets]
                ).to_dict()
            )
        with self._lock:
            self._failed.extend((rid, n) for n in notes)
        return _Context(targets=targets)

    def forget(self, rollout_id: str) -> None:
        """Drop an ended rollout's context (a long-running worker serves many)."""
        with self._ctx_lock:
            self._contexts.pop(rollout_id, None)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Let queued deliveries finish (at most `wait_s`), then journal what failed."""
        if self._thread is not None:
            deadline = time.monotonic() + wait_s
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=max(0.0, wait_s))
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                # Still delivering: what is left in the queue is not going to make it.
                while True:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is not None:
                        self._failure(job.target, job.notification, 0, "not sent before exit")
            self._thread = None
        self._flush_failures()

    # -- the worker -------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fleetctl-notify", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._deliver(job)

    def _deliver(self, job: _Job) -> None:
        body = payload(job.target, job.notification)
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                self.sender(job.target.url, body, self.timeout_s)
                with self._lock:
                    self.delivered += 1
                return
            except Exception as exc:
                error = _error_text(exc, job.target.url)
                if attempt < self.attempts:
                    self.sleep(self.backoff_s * 2 ** (attempt - 1))
        self._failure(job.target, job.notification, self.attempts, error)

    def _failure(
        self, target: Target | None, n: Notification | None, attempts: int, error: str
    ) -> None:
        ev = events.NotifyFailed(
            at=time.time(),
            kind=n.kind.value if n else None,
            attempts=attempts,
            error=error,
            target=target.name if target else None,
            fingerprint=target.fingerprint if target else None,
        ).to_dict()
        with self._lock:
            self._failed.append((n.rollout if n else "", ev))

    def _flush_failures(self) -> None:
        with self._lock:
            failed, self._failed = self._failed, []
        for rollout_id, ev in failed:
            if not rollout_id:
                continue
            # A journal that is down: the rollout itself will say so.
            with contextlib.suppress(Exception):
                self.journal(rollout_id, ev)
