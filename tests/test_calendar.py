"""Deadline arithmetic on real business calendars: pinned dates, provisional years and properties."""

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_service.calendar import (BusinessCalendar, CalendarSpec, Counting, Duration, due_time)

from conftest import load_cases

CASES = load_cases("deadlines.yaml")


@pytest.fixture(scope="module")
def calendars(default_program):
    return {"cn": default_program.calendars["cn_mainland"], "uk": default_program.calendars["uk_england"]}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pinned_due_time(case, calendars):
    (unit, amount), = case["duration"].items()
    pauses = tuple((datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in case.get("pauses", []))
    result = due_time(calendars[case["calendar"]], datetime.fromisoformat(case["received"]),
                      Duration(unit, amount), Counting(**case.get("counting", {})), pauses)
    assert result.due.isoformat() == case["due"]
    assert result.provisional is False


def test_a_year_without_official_make_up_days_is_provisional(calendars):
    result = due_time(calendars["cn"], datetime.fromisoformat("2027-03-01T10:00:00+08:00"),
                      Duration("business_days", 5), Counting())
    assert result.provisional is True


def test_a_year_the_policy_declares_is_not_provisional():
    spec = CalendarSpec("cn", "Asia/Shanghai", "CN", extra_working_days=frozenset({date(2027, 2, 20)}),
                        declared_years=frozenset({2027}))
    result = due_time(BusinessCalendar(spec), datetime.fromisoformat("2027-02-19T10:00:00+08:00"),
                      Duration("business_days", 1), Counting())
    assert result.provisional is False
    assert result.due.date() == date(2027, 2, 20)


def test_uk_deadlines_are_never_provisional(calendars):
    result = due_time(calendars["uk"], datetime.fromisoformat("2031-03-03T10:00:00+00:00"),
                      Duration("business_days", 5), Counting())
    assert result.provisional is False


def test_extra_holidays_are_skipped():
    spec = CalendarSpec("x", "Europe/London", "GB", "ENG", extra_holidays=frozenset({date(2025, 4, 22)}))
    result = due_time(BusinessCalendar(spec), datetime.fromisoformat("2025-04-17T10:00:00+01:00"),
                      Duration("business_days", 3), Counting())
    assert result.due.date() == date(2025, 4, 25)


instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 10, 31),
                        timezones=st.just(timezone.utc))


@settings(max_examples=150, deadline=None)
@given(received=instants, amount=st.integers(min_value=1, max_value=40), extra=st.integers(min_value=1, max_value=10),
       unit=st.sampled_from(["business_days", "working_hours", "calendar_days", "hours"]),
       which=st.sampled_from(["cn", "uk"]))
def test_adding_time_never_moves_a_deadline_earlier(calendars, received, amount, extra, unit, which):
    calendar = calendars[which]
    shorter = due_time(calendar, received, Duration(unit, amount), Counting())
    longer = due_time(calendar, received, Duration(unit, amount + extra), Counting())
    assert longer.due > shorter.due >= shorter.starts


@settings(max_examples=150, deadline=None)
@given(received=instants, amount=st.integers(min_value=1, max_value=60),
       unit=st.sampled_from(["business_days", "working_hours"]), which=st.sampled_from(["cn", "uk"]))
def test_working_time_deadlines_fall_on_working_days_within_hours(calendars, received, amount, unit, which):
    calendar = calendars[which]
    due = due_time(calendar, received, Duration(unit, amount), Counting()).due
    assert calendar.is_working_day(due.date())
    assert calendar.spec.working_start < due.timetz().replace(tzinfo=None) <= calendar.spec.working_end


@settings(max_examples=100, deadline=None)
@given(received=instants, amount=st.integers(min_value=1, max_value=20),
       pause_start=st.integers(min_value=0, max_value=200), pause_hours=st.integers(min_value=1, max_value=300))
def test_a_pause_never_moves_a_deadline_earlier(calendars, received, amount, pause_start, pause_hours):
    calendar = calendars["cn"]
    begin = received + timedelta(hours=pause_start)
    plain = due_time(calendar, received, Duration("business_days", amount), Counting())
    paused = due_time(calendar, received, Duration("business_days", amount), Counting(),
                      ((begin, begin + timedelta(hours=pause_hours)),))
    assert paused.due >= plain.due
