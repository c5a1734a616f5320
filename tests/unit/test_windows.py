"""Deploy windows in local time: the pure maths, DST days in Europe/Dublin included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetctl.core import windows
from fleetctl.core.policy import Policy, RegionWindow

pytestmark = pytest.mark.unit


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def win(tz: str, start: str, end: str, **kw: object) -> windows.Window:
    return RegionWindow.model_validate({"tz": tz, "start": start, "end": end, **kw}).window()


# 2026 in Europe/Dublin: spring forward Sun 29 Mar at 01:00 UTC (01:00 GMT -> 02:00 IST),
# fall back Sun 25 Oct at 01:00 UTC (02:00 IST -> 01:00 GMT).


def test_winter_and_summer_follow_the_zone() -> None:
    w = win("Europe/Dublin", "02:00", "06:00")
    assert windows.is_open(w, utc(2026, 1, 14, 2, 0))  # GMT = UTC
    assert not windows.is_open(w, utc(2026, 1, 14, 1, 59))
    assert windows.is_open(w, utc(2026, 7, 14, 1, 0))  # IST = UTC+1
    assert not windows.is_open(w, utc(2026, 7, 14, 5, 0))  # 06:00 IST: closed (end excluded)


def test_spring_forward_gap_opens_at_the_first_real_minute() -> None:
    w = win("Europe/Dublin", "01:30", "03:00", days=["sun"])
    # 01:30 local does not exist on 29 Mar: the window opens when clocks jump to 02:00 IST.
    assert not windows.is_open(w, utc(2026, 3, 29, 0, 59))  # 00:59 GMT
    assert windows.next_open(w, utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 0)
    assert windows.is_open(w, utc(2026, 3, 29, 1, 0))  # 02:00 IST
    assert not windows.is_open(w, utc(2026, 3, 29, 2, 0))  # 03:00 IST


def test_a_window_inside_the_gap_never_opens_that_day() -> None:
    w = win("Europe/Dublin", "01:00", "02:00", days=["sun"])
    nxt = windows.next_open(w, utc(2026, 3, 28, 12, 0))
    assert nxt == utc(2026, 4, 5, 0, 0)  # the next Sunday, 01:00 IST
    assert not any(
        windows.is_open(w, utc(2026, 3, 29, 0, 0) + timedelta(minutes=m)) for m in range(24 * 60)
    )


def test_fall_back_repeated_hour_is_inside_twice() -> None:
    w = win("Europe/Dublin", "01:00", "02:00", days=["sun"])
    open_minutes = [
        m
        for m in range(-120, 24 * 60)
        if windows.is_open(w, utc(2026, 10, 25, 0, 0) + timedelta(minutes=m))
    ]
    # 00:00-01:00 UTC is 01:00-02:00 IST, 01:00-02:00 UTC is 01:00-02:00 GMT: two real hours.
    assert open_minutes == list(range(0, 120))
    assert windows.next_open(w, utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 0)


def test_fall_back_second_pass_is_the_next_opening() -> None:
    w = win("Europe/Dublin", "01:30", "01:45", days=["sun"])
    assert windows.is_open(w, utc(2026, 10, 25, 0, 30))  # first 01:30 (IST)
    assert not windows.is_open(w, utc(2026, 10, 25, 0, 50))
    assert windows.next_open(w, utc(2026, 10, 25, 0, 50)) == utc(2026, 10, 25, 1, 30)  # GMT


def test_tokyo_not_friday() -> None:
    w = win("Asia/Tokyo", "02:00", "06:00", not_days=["fri"])
    fri_3am_jst = utc(2026, 12, 3, 18, 0)  # Fri 4 Dec 03:00 JST
    assert not windows.is_open(w, fri_3am_jst)
    assert windows.is_open(w, fri_3am_jst - timedelta(days=1))  # Thursday
    assert windows.next_open(w, fri_3am_jst) == utc(2026, 12, 4, 17, 0)  # Sat 02:00 JST
    assert w.describe() == "02:00-06:00 Asia/Tokyo, not fri"


def test_span_over_midnight_belongs_to_the_opening_day() -> None:
    w = win("Asia/Tokyo", "22:00", "02:00", days=["mon"])
    assert windows.is_open(w, utc(2026, 12, 7, 16, 30))  # Tue 01:30 JST, Monday's window
    assert not windows.is_open(w, utc(2026, 12, 6, 16, 30))  # Mon 01:30 JST, Sunday's
    assert windows.closes_at(w, utc(2026, 12, 7, 16, 30)) == utc(2026, 12, 7, 17, 0)


def test_no_days_never_opens() -> None:
    w = win("UTC", "00:00", "24:00", days=[])
    assert windows.next_open(w, utc(2026, 1, 1)) is None


def test_policy_picks_the_steps_region_then_the_default() -> None:
    p = Policy.model_validate(
        {
            "deploy_windows": {
                "eu-west-1": {"tz": "Europe/Dublin", "start": "02:00", "end": "06:00"},
                "*": {"tz": "UTC", "start": "00:00", "end": "24:00", "days": ["sat"]},
            }
        }
    )
    friday_noon = utc(2026, 12, 4, 12, 0)
    closed = p.window_closed("eu-west-1", friday_noon)
    assert closed is not None
    assert "eu-west-1's deploy window (02:00-06:00 Europe/Dublin)" in closed
    assert "opens Sat 2026-12-05 02:00 GMT (02:00 UTC)" in closed
    assert p.window_closed("eu-west-1", utc(2026, 12, 4, 3, 0)) is None
    assert "sat" in (p.window_closed("ap-northeast-1", friday_noon) or "")


def test_legacy_utc_offset_window_behaves_as_before() -> None:
    p = Policy.model_validate(
        {
            "deploy_window": {
                "days": ["mon", "tue"],
                "start": "22:00",
                "end": "01:30",
                "utc_offset_h": 1,
            }
        }
    )
    legacy = p.deploy_window
    assert legacy is not None
    w = p.window_for("anywhere")
    assert w is not None
    t = utc(2026, 12, 6, 0, 0)
    for minute in range(0, 3 * 24 * 60, 7):
        at = t + timedelta(minutes=minute)
        assert windows.is_open(w, at) == legacy.contains(at), at


def test_bad_zone_and_both_kinds_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown time zone 'Europe/Dubln'.*IANA"):
        Policy.model_validate({"deploy_windows": {"eu-west-1": {"tz": "Europe/Dubln"}}})
    with pytest.raises(ValueError, match="both set: keep deploy_windows"):
        Policy.model_validate(
            {"deploy_window": {"start": "09:00"}, "deploy_windows": {"*": {"tz": "UTC"}}}
        )
    with pytest.raises(ValueError, match="not a time like"):
        Policy.model_validate({"deploy_windows": {"*": {"tz": "UTC", "start": "2am"}}})
