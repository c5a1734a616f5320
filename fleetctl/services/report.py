"""`fleetctl rollout report ID --out FILE.html`: one self-contained HTML page
of a rollout, the way Kayenta's canary reports show a judgement.

Everything comes from the journal (the rollout's record and its events, read
with the rollout service's own functions): a timeline of steps and
decisions, and per gate run the changed hosts against the baseline for
every number the gate recorded as a `changed_X` / `baseline_X` pair (HTTP's
p95 against its limit), with the policy's thresholds drawn as lines. Plots
are matplotlib SVG inlined in the page: no script, no network, no file
beside it.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fleetctl.adapters.state.base import StateStore

_VERDICT_COLOURS = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "inconclusive": "#ef6c00",
    "skipped": "#757575",
}
_CHANGED, _BASELINE = "#1565c0", "#9e9e9e"


@dataclass(frozen=True)
class Comparison:
    """One number of a gate: the changed hosts', the baseline's, and the limit."""

    metric: str
    changed: float
    baseline: float | None
    threshold: float | None
    bound: str  # "max" | "min" | ""


def comparisons(numbers: dict[str, Any]) -> list[Comparison]:
    """The comparable numbers of a gate run: `changed_X` (with `baseline_X`
    when there is one) and the `max_X` / `min_X` that limits it. HTTP's
    p95 is its own (no baseline)."""

    def num(v: Any) -> float | None:
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    out = []
    for key, value in numbers.items():
        if not key.startswith("changed_") or num(value) is None:
            continue
        metric = key.removeprefix("changed_")
        if metric == "hosts" or metric.endswith("_n"):  # counts, not judged numbers
            continue
        limit, bound = None, ""
        for b in ("max", "min"):
            if num(numbers.get(f"{b}_{metric}")) is not None:
                limit, bound = num(numbers[f"{b}_{metric}"]), b
        out.append(
            Comparison(
                metric, num(value) or 0.0, num(numbers.get(f"baseline_{metric}")), limit, bound
            )
        )
    if num(numbers.get("p95_ms")) is not None:
        out.append(
            Comparison(
                "p95_ms", num(numbers["p95_ms"]) or 0.0, None, num(numbers.get("max_p95_ms")), "max"
            )
        )
    return out


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]  # drop the XML prolog: inline in HTML


def gate_plot(title: str, comps: Sequence[Comparison]) -> str:
    """Changed vs baseline bars, one panel per number, the limit as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(comps)
    fig, axes = plt.subplots(1, n, figsize=(max(3.0, 2.6 * n), 2.6), squeeze=False)
    for ax, c in zip(axes[0], comps, strict=True):
        labels, values, colours = ["canary"], [c.changed], [_CHANGED]
        if c.baseline is not None:
            labels.append("baseline")
            values.append(c.baseline)
            colours.append(_BASELINE)
        ax.bar(labels, values, color=colours)
        if c.threshold is not None:
            ax.axhline(c.threshold, color="#c62828", linestyle="--", linewidth=1.2)
            ax.annotate(
                f"{c.bound} {c.threshold:g}",
                xy=(1.0, c.threshold),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=7,
                color="#c62828",
            )
        ax.set_title(c.metric.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=8)
        top = max([*values, c.threshold or 0.0])
        ax.set_ylim(0, top * 1.25 if top > 0 else 1)
    fig.suptitle(title, fontsize=10, y=1.08)
    return _svg(fig)


def timeline_plot(doc: dict[str, Any], events: Sequence[dict[str, Any]]) -> str:
    """Steps as bars over time; each gate verdict a dot coloured by verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = float(events[0]["at"]) if events else float(doc.get("created_at") or 0)
    starts: dict[int, tuple[float, str]] = {}
    bars: list[tuple[str, float, float]] = []
    dots: list[tuple[str, float, str]] = []
    current = ""
    for e in events:
        at = float(e["at"]) - t0
        if e["type"] == "step_started":
            current = str(e.get("label", e.get("step")))
            starts[int(e["step"])] = (at, current)
        elif e["type"] == "step_finished" and int(e["step"]) in starts:
            s, label = starts.pop(int(e["step"]))
            bars.append((label, s, at))
        elif e["type"] == "gate":
            row = current if e.get("phase") == "step" else "rollback"
            dots.append((row, at, str(e.get("verdict"))))
        elif e["type"] in ("rollback_started", "rollback_applied", "rollback_proven"):
            dots.append(("rollback", at, "fail" if e["type"] == "rollback_started" else "pass"))
    end = float(events[-1]["at"]) - t0 if events else 0.0
    bars += [(label, s, end) for s, label in starts.values()]  # unfinished steps
    rows = list(dict.fromkeys([b[0] for b in bars] + [d[0] for d in dots]))
    fig, ax = plt.subplots(figsize=(9, 0.45 * max(2, len(rows)) + 1))
    for label, s, e in bars:
        ax.barh(rows.index(label), max(e - s, 0.2), left=s, color="#bbdefb", edgecolor=_CHANGED)
    for label, at, verdict in dots:
        ax.plot(at, rows.index(label), "o", color=_VERDICT_COLOURS.get(verdict, "#000"), ms=6)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the rollout started", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title("timeline: steps (bars) and gate verdicts (dots)", fontsize=10)
    return _svg(fig)


def _when(at: Any) -> str:
    try:
        return dt.datetime.fromtimestamp(float(at), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError):
        return "?"


_SKIP_KEYS = frozenset({"type", "at"})


def _summary(e: dict[str, Any]) -> str:
    """One line of an event for the table (long values shortened)."""
    parts = []
    for k, v in e.items():
        if k in _SKIP_KEYS or k == "numbers":
            continue
        text = str(v)
        parts.append(f"{k}={text if len(text) <= 120 else text[:117] + '...'}")
    return ", ".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#212121}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}h3{font-size:14px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #e0e0e0;padding:3px 6px;
text-align:left;vertical-align:top}.v{font-weight:bold;color:#fff;padding:1px 6px;border-radius:3px}
.gate{margin:12px 0;padding:8px;border:1px solid #e0e0e0;border-radius:4px}
svg{max-width:100%;height:auto}
"""


def render(doc: dict[str, Any], events: Sequence[dict[str, Any]]) -> str:
    """The page (a pure function of the record and its events)."""
    esc = html.escape

    def verdict(v: str) -> str:
        colour = _VERDICT_COLOURS.get(v, "#424242")
        return f'<span class="v" style="background:{colour}">{esc(v.upper())}</span>'

    head = [
        ("rollout", doc["id"]),
        ("env", doc.get("env", "")),
        ("playbook", doc.get("playbook", "")),
        ("release", doc.get("release_id", "")),
        ("rollback to", doc.get("rollback_to_id") or "-"),
        ("status", doc.get("status", "")),
        ("message", doc.get("message", "")),
    ]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>rollout {esc(doc['id'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Rollout {esc(doc['id'])}</h1><table>",
        *[f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in head],
        "</table>",
    ]
    if events:
        out += ["<h2>Timeline</h2>", timeline_plot(doc, events)]
    out.append("<h2>Gates: canary against baseline</h2>")
    label = ""
    any_gate = False
    for e in events:
        if e["type"] == "step_started":
            label = str(e.get("label", ""))
        if e["type"] != "gate":
            continue
        any_gate = True
        phase = "rollback proof" if e.get("phase") == "rollback" else label
        numbers = e.get("numbers") or {}
        comps = comparisons(numbers)
        out.append(
            f'<div class="gate"><h3>{esc(str(e.get("gate")))} · {esc(phase)} · '
            f"{verdict(str(e.get('verdict', '')))}</h3><p>{esc(str(e.get('reason', '')))}</p>"
        )
        if comps:
            out.append(gate_plot(f"{e.get('gate')} ({phase})", comps))
        out.append("</div>")
    if not any_gate:
        out.append("<p>No gate ran.</p>")
    out += [
        "<h2>Every decision</h2><table><tr><th>time (UTC)</th><th>event</th><th>details</th></tr>"
    ]
    for e in events:
        v = str(e.get("verdict", ""))
        badge = f" {verdict(v)}" if v in _VERDICT_COLOURS else ""
        out.append(
            f"<tr><td>{_when(e.get('at'))}</td><td>{esc(str(e['type']))}{badge}</td>"
            f"<td>{esc(_summary(e))}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def build(store: StateStore, rollout_id: str) -> tuple[dict[str, Any], str]:
    """(the rollout's record, its page). Raises BadInput for an unknown id."""
    from fleetctl.services import rollout as rollout_service

    doc = rollout_service.load(store, rollout_id)
    return doc, render(doc, store.events(doc["id"]))
