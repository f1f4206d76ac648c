"""Business calendars and deadline arithmetic: public holidays from `holidays`, working hours, cut-offs, pauses."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

DAY_UNITS = ("business_days", "calendar_days", "weeks", "months")
TIME_UNITS = ("working_hours", "hours")
UNITS = TIME_UNITS + DAY_UNITS
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class CalendarSpec:
    """A named business calendar as the policy declares it."""

    id: str
    time_zone: str
    country: str
    subdivision: str | None = None
    working_start: time = time(9, 0)
    working_end: time = time(18, 0)
    cutoff: time | None = None
    extra_holidays: frozenset = field(default_factory=frozenset)
    extra_working_days: frozenset = field(default_factory=frozenset)
    declared_years: frozenset = field(default_factory=frozenset)


@dataclass(frozen=True)
class Duration:
    """An amount of one unit: working_hours, hours, business_days, calendar_days, weeks or months."""

    unit: str
    amount: float

    def as_dict(self) -> dict:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return {self.unit: amount}

    def __str__(self) -> str:
        return f"{self.as_dict()[self.unit]} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Counting:
    """How a clock starts and ends, as the policy states it."""

    day_zero: str = "receipt_day"  # or next_working_day
    outside_hours: str = "next_working_day"  # or as_received
    due_on_non_working_day: str = "keep"  # or next_working_day (calendar-day clocks)


class BusinessCalendar:
    """Working days and hours of one jurisdiction; pure arithmetic over `holidays` data."""

    def __init__(self, spec: CalendarSpec):
        self.spec = spec
        self.zone = ZoneInfo(spec.time_zone)
        self._working: dict[date, bool] = {}  # a day's status never changes for one calendar
        self._next_working: dict[date, date] = {}
        # Working hours never straddle a DST change (those happen at night), so every full working
        # day holds the same amount of working time.
        self._day_seconds = (datetime.combine(date(2000, 1, 3), spec.working_end)
                             - datetime.combine(date(2000, 1, 3), spec.working_start)).total_seconds()

    @functools.cached_property
    def _holidays(self):
        import holidays  # holiday data is loaded on first use, not at import

        return holidays.country_holidays(self.spec.country, subdiv=self.spec.subdivision, language="en_US")

    @functools.lru_cache(maxsize=64)  # noqa: B019 (one calendar per policy; bounded)
    def _year_covered(self, year: int) -> bool:
        """For countries that publish make-up working days yearly (China's 调休), whether `year` has them."""
        calendar = self._holidays
        if not getattr(calendar, "has_substituted_holidays", False):
            return True
        calendar.get(date(year, 1, 1))  # populates the year
        return any(d.year == year for d in calendar.weekend_workdays)

    # --- days -----------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """True on a working day: not a weekend or public holiday, or a declared/make-up working day."""
        known = self._working.get(day)
        if known is None:
            if day in self.spec.extra_working_days:
                known = True
            elif day in self.spec.extra_holidays:
                known = False
            else:
                known = self._holidays.is_working_day(day)
            self._working[day] = known
        return known

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on `day`, if any."""
        if day in self.spec.extra_holidays:
            return "policy holiday"
        return self._holidays.get(day)

    def is_provisional(self, day: date) -> bool:
        """True when `day` falls in a year whose official schedule the installed data does not cover."""
        return day.year not in self.spec.declared_years and not self._year_covered(day.year)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        found = self._next_working.get(day)
        if found is None:
            found = day + timedelta(days=1)
            while not self.is_working_day(found):
                found += timedelta(days=1)
            self._next_working[day] = found
        return found

    def add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (day itself is day zero)."""
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, first: date, last: date) -> int:
        """Working days in [first, last)."""
        count, day = 0, first
        while day < last:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count

    # --- instants ---------------------------------------------------------------------------

    def local(self, instant: datetime) -> datetime:
        """The instant in the calendar's time zone."""
        return instant.astimezone(self.zone)

    def at(self, day: date, clock_time: time) -> datetime:
        """A wall-clock time on a day in the calendar's zone (DST-correct)."""
        return datetime.combine(day, clock_time, tzinfo=self.zone)

    def working_period(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of `day`, or None on a non-working day."""
        if not self.is_working_day(day):
            return None
        return self.at(day, self.spec.working_start), self.at(day, self.spec.working_end)

    def is_outside_hours(self, instant: datetime) -> bool:
        """True when received on a non-working day or after the cut-off (or after working hours)."""
        local = self.local(instant)
        if not self.is_working_day(local.date()):
            return True
        limit = self.spec.cutoff or self.spec.working_end
        return local.time() >= limit

    def next_working_start(self, instant: datetime) -> datetime:
        """The start of the next working period at or after `instant` (or `instant` if inside one)."""
        local = self.local(instant)
        day = local.date()
        period = self.working_period(day)
        if period and local < period[1]:
            return max(local, period[0])
        day = self.next_working_day(day)
        return self.at(day, self.spec.working_start)

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        """The instant after `seconds` of working time from `start`."""
        current = self.next_working_start(start)
        day = current.date()
        available = (self.at(day, self.spec.working_end) - current).total_seconds()
        remaining = seconds
        while remaining > available:
            remaining -= available
            day = self.next_working_day(day)
            available = self._day_seconds
            current = None
        if current is None:
            current = self.at(day, self.spec.working_start)
        return self.local(current + timedelta(seconds=remaining))

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working time between two instants (0 if end is not after start)."""
        if end <= start:
            return 0.0
        first, last = self.local(start).date(), self.local(end).date()
        if first == last:
            return self._overlap(first, start, end)
        whole_days = self.working_days_between(first + timedelta(days=1), last)
        return (self._overlap(first, start, end) + whole_days * self._day_seconds
                + self._overlap(last, start, end))

    def _overlap(self, day: date, start: datetime, end: datetime) -> float:
        period = self.working_period(day)
        if not period:
            return 0.0
        low, high = max(period[0], start), min(period[1], end)
        return max(0.0, (high - low).total_seconds())


@dataclass(frozen=True)
class DueTime:
    """A computed deadline with the facts that explain it."""

    due: datetime
    starts: datetime
    provisional: bool
    paused_units: float = 0


def effective_start(calendar: BusinessCalendar, received: datetime, counting: Counting) -> datetime:
    """When the clock starts: receipt, or the next working period if received outside hours."""
    if counting.outside_hours == "next_working_day" and calendar.is_outside_hours(received):
        local = calendar.local(received)
        day = local.date()
        if calendar.is_working_day(day) and local.time() < calendar.spec.working_start:
            return calendar.at(day, calendar.spec.working_start)
        return calendar.at(calendar.next_working_day(day), calendar.spec.working_start)
    return calendar.local(received)


def _add(calendar: BusinessCalendar, start: datetime, duration: Duration, counting: Counting) -> datetime:
    unit, amount = duration.unit, duration.amount
    if unit == "hours":
        return calendar.local(start.astimezone(timezone.utc) + timedelta(hours=amount))
    if unit == "working_hours":
        return calendar.add_working_time(start, amount * 3600)
    day_zero = start.date()
    if counting.day_zero == "next_working_day":
        day_zero = calendar.next_working_day(day_zero)
    if unit == "business_days":
        day = calendar.add_working_days(day_zero, int(amount))
        return calendar.at(day, calendar.spec.working_end)
    if unit == "calendar_days":
        day = day_zero + timedelta(days=int(amount))
    elif unit == "weeks":
        day = day_zero + timedelta(weeks=int(amount))
    else:
        day = day_zero + relativedelta(months=int(amount))
    if counting.due_on_non_working_day == "next_working_day" and not calendar.is_working_day(day):
        day = calendar.next_working_day(day)
    return calendar.at(day, END_OF_DAY)


def _paused_amount(calendar: BusinessCalendar, unit: str, pause: tuple[datetime, datetime]) -> float:
    begin, end = pause
    if unit == "hours":
        return max(0.0, (end - begin).total_seconds() / 3600)
    if unit == "working_hours":
        return calendar.working_seconds_between(begin, end) / 3600
    first, last = calendar.local(begin).date(), calendar.local(end).date()
    if unit == "business_days":
        return calendar.working_days_between(first, last)
    return max(0, (last - first).days)


def due_time(calendar: BusinessCalendar, received: datetime, duration: Duration, counting: Counting,
             pauses: tuple = ()) -> DueTime:
    """When a clock of `duration` started by a complaint received at `received` falls due.

    Each pause that begins before the (moving) due time pushes it later by the time the pause
    covered, counted in the clock's own unit (working days for a business-day clock, ...).
    """
    start = effective_start(calendar, received, counting)
    due = _add(calendar, start, duration, counting)
    paused = 0.0
    for begin, end in sorted(pauses):
        begin = max(begin, start)
        if end <= begin or begin >= due:
            continue
        amount = _paused_amount(calendar, duration.unit, (begin, end))
        if amount:
            paused += amount
            due = _add(calendar, start, Duration(duration.unit, duration.amount + paused), counting)
    provisional = calendar.is_provisional(start.date()) or calendar.is_provisional(due.date()) or any(
        calendar.is_provisional(start.date() + timedelta(days=offset))
        for offset in range(0, (due.date() - start.date()).days + 1, 28))
    return DueTime(due, start, provisional, paused)


def at_fraction(calendar: BusinessCalendar, start: datetime, due: datetime, fraction: float,
                working_time: bool) -> datetime:
    """The instant `fraction` of the way from start to due: in working time when the clock counts it."""
    if working_time:
        total = calendar.working_seconds_between(start, due)
        return calendar.add_working_time(start, total * fraction)
    return calendar.local(start + (due - start) * fraction)
