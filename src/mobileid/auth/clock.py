"""Time for auth decisions: an injectable clock, and a guard against it running backwards.

Lockouts, idle sessions and token expiry compare stored times with *now*. A wall clock that
jumps backwards (a bad NTP step, someone setting the date) would otherwise unlock an account
early or keep a token alive longer. So auth time never goes backwards:

- the database keeps the highest auth time used (``high_water``) and an ``offset``: when the
  wall clock reads behind, the gap is added to the offset, and from then on auth time runs at
  the wall clock's rate from where it was (the jump is recorded as ``clock_backwards``);
- within one process, a monotonic clock (``time.monotonic``, unaffected by date changes)
  measures the time since the last reading, so the minutes that passed between the last
  request and the jump are counted too. Across a restart only the stored high-water mark is
  known: time then stands still until the wall clock passes it, which keeps an account
  locked longer, never shorter.

After a backward jump, stored times run ahead of the wall clock by the jump. A forward jump
cannot be told apart from a quiet night and is taken as real. TOTP codes are checked against
the wall clock (the phone's authenticator follows real time); their replay protection does
not depend on the clock (a step must be newer than the last one accepted).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mobileid.errors import InvalidArgument

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime (converted to UTC)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def read(clock: Clock) -> datetime:
    now = clock()
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument(
            f"clock: expected an aware UTC datetime, got naive {now.isoformat()}", field="clock"
        )
    return now.astimezone(UTC)


@dataclass(frozen=True)
class Reading:
    raw: datetime  # what the clock said
    now: datetime  # monotonic auth time: raw + offset, never below the high-water mark
    offset: timedelta  # total backward jumps absorbed so far
    jumped_back: timedelta | None  # set when this reading found the clock behind


def advance(raw: datetime, floor: datetime | None, offset: timedelta) -> Reading:
    """The auth time for a raw reading: ``raw + offset``, lifted to ``floor`` if below it."""
    now = raw + offset
    if floor is None or now >= floor:
        return Reading(raw, now, offset, None)
    behind = floor - now
    return Reading(raw, floor, offset + behind, behind)


class MonotonicAnchor:
    """Links auth time to a monotonic clock within this process (see the module docstring).

    Differences of under ``tolerance`` between the two clocks are ignored: they run at
    slightly different rates (NTP slews the wall clock), and that is not a jump.
    """

    def __init__(self, monotonic: Callable[[], float], tolerance: timedelta) -> None:
        self._monotonic = monotonic
        self._tolerance = tolerance
        self._lock = threading.Lock()
        self._last: tuple[float, datetime] | None = None

    def floor(self, raw_plus_offset: datetime) -> tuple[float, datetime | None]:
        """(the monotonic reading, the earliest auth time it allows, when it matters)."""
        mono = self._monotonic()
        with self._lock:
            last = self._last
        if last is None:
            return mono, None
        estimate = last[1] + timedelta(seconds=mono - last[0])
        return mono, estimate if estimate - raw_plus_offset > self._tolerance else None

    def update(self, mono: float, now: datetime) -> None:
        with self._lock:
            if self._last is None or mono >= self._last[0]:
                self._last = (mono, now)
