"""Prepared templates of shortlisted finger rows, kept between searches.

A row's matcher's working form (:class:`~mobileid.finger.match.MatchFeatures`, ~52 KB for a
40-minutia template: its cylinders are N×312 ``float32``) costs ~0.5 ms to prepare; a search
checks ``SHORTLIST`` rows, and a repeated search checks the same ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from mobileid.finger.match import MatchFeatures

__all__ = ["FEATURE_CACHE", "FeatureCache"]

# Prepared templates kept per gallery object, least recently used dropped first. 2,000 holds
# the shortlists of the largest search (10 probes × 2 kinds of template × SHORTLIST 100), so a
# repeated search prepares nothing. Memory: ~52 KB a template of 40 minutiae, so ~100 MB full;
# ~190 KB at the 150-minutiae maximum (ExtractParams.max_minutiae), ~380 MB at worst.
FEATURE_CACHE = 2_000


class FeatureCache:
    """Prepared templates by row id, the least recently used dropped beyond ``size``.

    A row's template never changes under its id (ids are never reused), so entries stay valid
    until the key changes (:meth:`clear`); rows deleted since are never asked for again and
    age out. Safe to share between threads.
    """

    def __init__(self, size: int = FEATURE_CACHE) -> None:
        self.size = size
        self._entries: OrderedDict[int, MatchFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, row_id: int, make: Callable[[], MatchFeatures]) -> MatchFeatures:
        with self._lock:
            hit = self._entries.get(row_id)
            if hit is not None:
                self._entries.move_to_end(row_id)
                return hit
        made = make()  # outside the lock: other searches need not wait on it
        with self._lock:
            self._entries[row_id] = made
            self._entries.move_to_end(row_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
