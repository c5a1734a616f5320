"""Deploy windows in a region's local time: pure maths on aware datetimes.

A window is a local wall-clock range on some weekdays in one time zone, e.g.
"02:00-06:00 Europe/Dublin, not fri". An instant is inside when its local wall
time is in [start, end) on an allowed day; an end at or before the start spans
midnight, and the part after midnight belongs to the day the window opened.

Daylight saving follows from "local wall time": on the spring-forward day a
window's non-existent local minutes are simply never reached (Dublin's 01:00-02:00
on the last Sunday of March), and on the fall-back day the repeated local hour is
inside twice (so a 01:00-02:00 window is open for two real hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = "24:00"
_SEARCH_DAYS = 16  # two weeks and a day: a DST gap can swallow a whole week's opening
_MAX_GAP_MIN = 180  # longest DST gap anywhere is 1 h (Lord Howe 30 min); room to spare


def zone(name: str) -> tzinfo:
    """The IANA zone `name` (e.g. "Europe/Dublin"); ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like 'Europe/Dublin' or 'Asia/Tokyo'"
        ) from None


def parse_hhmm(value: str, *, allow_end_of_day: bool = False) -> time | None:
    """'HH:MM' as a time; '24:00' (end of day) as None when allowed."""
    if allow_end_of_day and value == END_OF_DAY:
        return None
    try:
        h, m = value.split(":")
        if len(h) != 2 or len(m) != 2:
            raise ValueError
        return time(int(h), int(m))
    except ValueError:
        raise ValueError(f"{value!r} is not a time like '02:00'") from None


@dataclass(frozen=True)
class Window:
    tz: tzinfo
    tz_name: str  # as written: "Europe/Dublin", or "UTC+1" for a fixed offset
    start: time
    end: time | None  # None: end of the day (24:00)
    days: frozenset[int]  # weekday numbers (0 = Monday) a window may open on
    label: str = ""  # how it was written, when not the standard form (the UTC-offset kind)

    def describe(self) -> str:
        if self.label:
            return self.label
        end = END_OF_DAY if self.end is None else self.end.strftime("%H:%M")
        span = f"{self.start.strftime('%H:%M')}-{end} {self.tz_name}"
        if len(self.days) == 7:
            return span
        if len(self.days) >= 4:
            return span + ", not " + ",".join(DAY_NAMES[d] for d in range(7) if d not in self.days)
        if not self.days:
            return span + ", no days"
        return span + ", " + ",".join(DAY_NAMES[d] for d in sorted(self.days))


def fixed_offset(hours: float) -> tuple[tzinfo, str]:
    from datetime import timezone

    return timezone(timedelta(hours=hours)), f"UTC{hours:+g}"


def _spans_midnight(w: Window) -> bool:
    return w.end is not None and w.end <= w.start


def is_open(w: Window, at: datetime) -> bool:
    """Is the aware instant `at` inside the window (by its local wall time)?"""
    local = at.astimezone(w.tz)
    now = local.time().replace(tzinfo=None, fold=0)
    weekday = local.weekday()
    if not _spans_midnight(w):
        return weekday in w.days and w.start <= now and (w.end is None or now < w.end)
    assert w.end is not None
    if now >= w.start:
        return weekday in w.days
    return (weekday - 1) % 7 in w.days and now < w.end


def _local_start(w: Window, day: date) -> datetime:
    """The earliest real instant whose local wall time is `day` at the window's start
    (in a spring-forward gap: the earlier of the two readings; the caller walks on)."""
    naive = datetime.combine(day, w.start)
    a = naive.replace(tzinfo=w.tz, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=w.tz, fold=1).astimezone(UTC)
    return min(a, b)


def next_open(w: Window, at: datetime) -> datetime | None:
    """The first instant at or after `at` inside the window (`at` itself when open);
    None when the window has no days. Returned in UTC."""
    at = at.astimezone(UTC)
    if is_open(w, at):
        return at
    if not w.days:
        return None
    first = at.astimezone(w.tz).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = first + timedelta(days=offset)
        if day.weekday() not in w.days:
            continue
        start = _local_start(w, day)
        # Walk minute by minute: over a DST gap that swallowed the start, or to the
        # second pass of a fall-back hour.
        for minute in range(_MAX_GAP_MIN):
            t = start + timedelta(minutes=minute)
            if t >= at and is_open(w, t):
                return t
    return None


def closes_at(w: Window, at: datetime) -> datetime | None:
    """When an open window closes (first instant after `at` outside it); None if not open."""
    if not is_open(w, at):
        return None
    t = at.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(8 * 24 * 60):
        if not is_open(w, t):
            return t
        t += timedelta(minutes=1)
    return None  # open all week


def local_text(w: Window, at: datetime) -> str:
    """'2026-03-29 02:00 IST (01:00 UTC)': an instant in the window's zone and in UTC."""
    local = at.astimezone(w.tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({at.astimezone(UTC):%H:%M} UTC)"


@dataclass(frozen=True)
class Availability:
    """When a region's steps may start, seen from one instant (for `rollout plan`)."""

    window: str | None  # Window.describe(); None: no window, any time
    open_now: bool
    next_open: datetime | None  # UTC; equals the instant when open now
    closes: datetime | None  # UTC, when open now
    text: str

    def to_dict(self) -> dict[str, object]:
        return {
            "window": self.window,
            "open_now": self.open_now,
            "next_open": self.next_open.isoformat() if self.next_open else None,
            "closes": self.closes.isoformat() if self.closes else None,
            "text": self.text,
        }


def availability(w: Window | None, at: datetime) -> Availability:
    if w is None:
        return Availability(None, True, at, None, "any time")
    nxt = next_open(w, at)
    if nxt is None:
        return Availability(w.describe(), False, None, None, f"never ({w.describe()})")
    if is_open(w, at):
        closes = closes_at(w, at)
        until = f" until {local_text(w, closes)}" if closes else ""
        return Availability(w.describe(), True, nxt, closes, f"now{until}")
    return Availability(w.describe(), False, nxt, None, local_text(w, nxt))
