"""`fleetctl rollout report ID --out FILE.html`: one self-contained HTML page
of a rollout, the way Kayenta's canary reports show a judgement.

Everything comes from the journal (the rollout's record and its events, read
with the rollout service's own functions): a timeline of steps and
decisions, and per gate run the canary against the baseline. A gate event
that carries its raw observations (`samples`, core/gate_samples.py) is drawn
as distributions: per metric an ECDF and a box plot with the points, canary
against baseline, the gate's limit drawn in; `slo_burn` as the burn rate of
each window against its pair's factor. An older event without samples falls
back to bars of every `changed_X` / `baseline_X` number it recorded (HTTP's
p95 against its limit). Plots are matplotlib SVG inlined in the page: no
script, no network, no file beside it.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fleetctl.adapters.state.base import StateStore
from fleetctl.core.gate_samples import BurnPoint, Distribution, GateSamples
from fleetctl.core.rollout import events as ev

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
    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    # no date and fixed element ids: the same journal gives the same page
    with matplotlib.rc_context({"svg.hashsalt": "fleetctl-report"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})

    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]  # drop the XML prolog: inline in HTML


def _limit_line(ax: Any, y: float, label: str) -> None:
    """A limit drawn into a panel: a dashed red line, labelled at its right edge."""
    ax.axhline(y, color="#c62828", linestyle="--", linewidth=1.2)
    ax.annotate(
        label,
        xy=(1.0, y),
        xycoords=("axes fraction", "data"),
        ha="right",
        va="bottom",
        fontsize=7,
        color="#c62828",
    )


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
            _limit_line(ax, c.threshold, f"{c.bound} {c.threshold:g}")
        ax.set_title(c.metric.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=8)
        top = max([*values, c.threshold or 0.0])
        ax.set_ylim(0, top * 1.25 if top > 0 else 1)
    fig.suptitle(title, fontsize=10, y=1.08)
    return _svg(fig)


# what one distribution is, in words (titles, captions, alt text)
_METRICS = {
    "latency_ms": "latency",
    "startup_s": "startup time",
    "rebuffer_ratio": "rebuffer ratio",
    "download_ratio": "segment download ratio",
    "hit_ratio": "cache hit ratio",
    "origin_per_request": "origin requests per viewer request",
}


def metric_name(d: Distribution) -> str:
    return _METRICS.get(d.metric, d.metric.replace("_", " "))


def limit_text(d: Distribution) -> str:
    """e.g. "max 2 s (p95)"; "" when the gate set no limit on it."""
    if d.limit is None:
        return ""
    unit = f" {d.unit}" if d.unit and not d.unit.startswith("x ") else ""
    of = f" ({d.limit_of})" if d.limit_of else ""
    return f"{d.bound} {d.limit:g}{unit}{of}".strip()


def caption(d: Distribution) -> str:
    """The figure's words: what, how many of each side, the limit."""
    unit = f" ({d.unit})" if d.unit else ""
    sides = f"canary n={d.changed_n}"
    if d.baseline is not None:
        sides += f" vs baseline n={d.baseline_n}"
    shown = len(d.changed) + len(d.baseline or ())
    capped = "" if shown == d.changed_n + d.baseline_n else f"; {shown} shown (capped)"
    lim = limit_text(d)
    return f"{metric_name(d)}{unit} per {d.per} distribution: {sides}{capped}" + (
        f"; limit {lim}" if lim else ""
    )


def _strip_x(n: int, centre: float) -> list[float]:
    """Deterministic jitter for a strip of n points (the same page every time)."""
    return [centre + 0.18 * (((i * 0.618034) % 1.0) - 0.5) for i in range(n)]


def distribution_plot(title: str, dists: Sequence[Distribution]) -> str:
    """One row per metric: its ECDF (canary against baseline; the limit as a
    dashed vertical line, the p95 as a dotted level when the limit is on it)
    and a box plot with the points, the limit as a dashed horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(dists)
    fig, axes = plt.subplots(n, 2, figsize=(8.4, 2.5 * n), squeeze=False)
    for (ecdf, box), d in zip(axes, dists, strict=True):
        sides = [("canary", d.changed, _CHANGED)]
        if d.baseline is not None:
            sides.append(("baseline", d.baseline, _BASELINE))
        unit = f" ({d.unit})" if d.unit else ""
        for label, values, colour in sides:
            if not values:
                continue
            # from 0 at the smallest value: a single observation is still a visible step
            xs = [min(values), *sorted(values)]
            ys = [0.0, *[(i + 1) / len(values) for i in range(len(values))]]
            ecdf.step(
                xs,
                ys,
                where="post",
                color=colour,
                linewidth=1.6,
                label=f"{label} (n={d.changed_n if label == 'canary' else d.baseline_n})",
            )
        lim = limit_text(d)
        if d.limit is not None:
            ecdf.axvline(d.limit, color="#c62828", linestyle="--", linewidth=1.2, label=lim)
            if d.limit_of.startswith("p") and d.limit_of[1:].isdigit():
                q = int(d.limit_of[1:]) / 100
                ecdf.axhline(q, color="#c62828", linestyle=":", linewidth=0.8)
        ecdf.set_ylim(0, 1.05)
        ecdf.set_ylabel("fraction", fontsize=8)
        ecdf.set_xlabel(f"{metric_name(d)}{unit}", fontsize=8)
        ecdf.set_title(f"{metric_name(d)} per {d.per}: ECDF", fontsize=9)
        ecdf.tick_params(labelsize=7)
        if ecdf.get_legend_handles_labels()[0]:
            ecdf.legend(fontsize=7, loc="lower right")
        present = [(label, v, c) for label, v, c in sides if v]
        if present:
            box.boxplot(
                [list(v) for _, v, _ in present],
                tick_labels=[label for label, _, _ in present],
                widths=0.5,
                showfliers=False,  # the points themselves are drawn
                medianprops={"color": "#212121"},
            )
            for i, (_, values, colour) in enumerate(present):
                box.plot(
                    _strip_x(len(values), i + 1),
                    list(values),
                    "o",
                    ms=2.5,
                    color=colour,
                    alpha=0.55,
                )
        else:
            box.text(
                0.5,
                0.5,
                "no observations",
                ha="center",
                va="center",
                transform=box.transAxes,
                fontsize=8,
            )
        if d.limit is not None:
            _limit_line(box, d.limit, lim)
        box.set_title(f"{metric_name(d)}: canary vs baseline", fontsize=9)
        box.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _svg(fig)


def burn_caption(points: Sequence[BurnPoint]) -> str:
    parts = []
    for p in points:
        rate = "unreadable" if p.burn_rate is None else f"{p.burn_rate:g}x"
        parts.append(f"{p.pair} {p.window} ({p.range}) {rate} vs factor {p.factor:g}x")
    return "burn rate per window against its pair's factor: " + "; ".join(parts)


def burn_plot(title: str, points: Sequence[BurnPoint]) -> str:
    """The burn rate of every window, grouped by pair, each pair's factor as a
    dashed line across its two windows (a pair fails when both are above);
    an unreadable or quiet window is a hatched empty bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(points) + 1.5), 2.8))
    known = [p.burn_rate for p in points if p.burn_rate is not None]
    top = max([*known, *[p.factor for p in points], 1.0])
    for i, p in enumerate(points):
        if p.burn_rate is None:
            ax.bar(i, top * 0.05, color="none", edgecolor=_BASELINE, hatch="//")
            ax.annotate("n/a", xy=(i, top * 0.06), ha="center", fontsize=7)
        else:
            over = p.burn_rate > p.factor
            ax.bar(i, p.burn_rate, color="#c62828" if over else _CHANGED)
    pairs: dict[str, list[int]] = {}
    for i, p in enumerate(points):
        pairs.setdefault(p.pair, []).append(i)
    for name, idx in pairs.items():
        factor = points[idx[0]].factor
        ax.hlines(
            factor,
            min(idx) - 0.45,
            max(idx) + 0.45,
            colors="#c62828",
            linestyles="--",
            linewidth=1.2,
        )
        ax.annotate(
            f"{name} factor {factor:g}x",
            xy=(max(idx) + 0.45, factor),
            ha="right",
            va="bottom",
            fontsize=7,
            color="#c62828",
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    ax.set_xticks(
        range(len(points)), [f"{p.pair} {p.window}\n{p.range}" for p in points], fontsize=7
    )
    ax.set_ylabel("burn rate (x budget)", fontsize=8)
    ax.set_ylim(0, top * 1.25)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title, fontsize=10)
    return _svg(fig)


def _figure(svg: str, text: str) -> str:
    """A plot with its words: alt text for a screen reader, a caption for people."""
    t = html.escape(text)
    return f'<figure role="img" aria-label="{t}">{svg}<figcaption>{t}</figcaption></figure>'


def origin_load_figure(title: str, numbers: dict[str, Any]) -> str:
    """The `cache` gate's projection as bars: the origin load at the region's
    peak if every edge of the region behaved like the canary, beside the
    baseline edges' and under the origin's capacity ("" without a projection)."""
    projected = numbers.get("projected_origin_rps")
    if not isinstance(projected, int | float):
        return ""
    base = numbers.get("baseline_origin_rps")
    cap = numbers.get("origin_capacity_rps")
    base = float(base) if isinstance(base, int | float) else None
    cap = float(cap) if isinstance(cap, int | float) else None
    comp = Comparison(
        "origin load at the region's peak (req/s)", float(projected), base, cap, "max"
    )
    words = (
        f"origin load if the change reached the whole region (peak "
        f"{numbers.get('region_peak_rps', '?')} req/s): canary {float(projected):g} req/s"
        + (f" vs baseline {base:g} req/s" if base is not None else "")
        + (f", capacity {cap:g} req/s" if cap is not None else "")
    )
    return _figure(gate_plot(f"{title}: projected origin load", [comp]), words)


def gate_figures(
    gate: str, phase: str, numbers: dict[str, Any], samples: GateSamples | None
) -> str:
    """The plots of one gate run: its distributions and burn rates when the
    journal kept them, else (an older journal) bars of its numbers; the
    cache gate's projected origin load in both cases."""
    title = f"{gate} ({phase})"
    load = origin_load_figure(title, numbers)
    out = []
    if samples:
        dists = [d for d in samples.distributions if d.changed or d.baseline]
        if dists:
            svg = distribution_plot(f"{title}: canary against baseline", dists)
            out.append(_figure(svg, " | ".join(caption(d) for d in dists)))
        if samples.burn:
            out.append(
                _figure(
                    burn_plot(f"{title}: burn rate per window", samples.burn),
                    burn_caption(samples.burn),
                )
            )
        if out:
            return "".join(out) + load
    comps = comparisons(numbers)
    if comps:
        words = "; ".join(
            f"{c.metric}: canary {c.changed:g}"
            + (f" vs baseline {c.baseline:g}" if c.baseline is not None else "")
            + (f", {c.bound} {c.threshold:g}" if c.threshold is not None else "")
            for c in comps
        )
        bars = _figure(gate_plot(title, comps), f"recorded numbers (no samples kept): {words}")
        return bars + load
    return load


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
        if k in _SKIP_KEYS or k in ("numbers", "samples"):
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
svg{max-width:100%;height:auto}figure{margin:8px 0}
figcaption{font-size:11px;color:#616161}
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
        out += [
            "<h2>Timeline</h2>",
            _figure(timeline_plot(doc, events), "timeline: steps as bars, gate verdicts as dots"),
        ]
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
        typed = ev.parse(e)
        samples = typed.samples if isinstance(typed, ev.Gate) else None
        out.append(
            f'<div class="gate"><h3>{esc(str(e.get("gate")))} · {esc(phase)} · '
            f"{verdict(str(e.get('verdict', '')))}</h3><p>{esc(str(e.get('reason', '')))}</p>"
        )
        out.append(gate_figures(str(e.get("gate")), phase, e.get("numbers") or {}, samples))
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
