"""Small counting helpers shared by the figure modules: labels, flags and live/training splits.

Details come from other components and from older versions of them, so every read here is
forgiving: a missing, null or oddly typed value is counted under ``(not recorded)`` or as zero,
never dropped and never an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from mobileid.audit import AuditEntry
from mobileid.oversight.model import NOT_RECORDED


def label(details: Mapping[str, Any], key: str) -> str:
    value = details.get(key)
    if value is None or value == "":
        return NOT_RECORDED
    return value if isinstance(value, str) else str(value)


def is_training(details: Mapping[str, Any]) -> bool:
    """Only an explicit ``true`` makes an event training: an unmarked search counts as live,
    so that a missing flag can never hide live use."""
    return details.get("training") is True


def count(value: Any) -> int:
    """A whole, non-negative count, or 0 for anything else (a bool is not a count)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


def mode(details: Mapping[str, Any]) -> str:
    return "training" if is_training(details) else "live"


def entry_day(entry: AuditEntry) -> date | None:
    """The UTC calendar day of an entry, or None when its time cannot be read."""
    try:
        moment = datetime.fromisoformat(entry.time)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the log only writes UTC
    return moment.astimezone(UTC).date()


def counter(keys: Iterable[str]) -> dict[str, int]:
    """Counts per key, keys sorted, so that the same log always gives the same JSON."""
    return dict(sorted(Counter(keys).items()))


def split(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``(key, "live"|"training")`` pairs -> ``{key: {"live": n, "training": n}}``, sorted."""
    out: dict[str, dict[str, int]] = {}
    for key, kind in pairs:
        out.setdefault(key, {"live": 0, "training": 0})[kind] += 1
    return dict(sorted(out.items()))


def live_training(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    modes = Counter(mode(d) for d in items)
    return {"live": modes["live"], "training": modes["training"]}
