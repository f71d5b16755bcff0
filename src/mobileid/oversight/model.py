"""The oversight report as a frozen value, and the words its figures are counted under."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from mobileid import NOTICE
from mobileid.audit import VerifyReport

FORMAT = "mobileid-oversight/1"
NOT_RECORDED = "(not recorded)"  # a details key that is missing, null or empty
BANDS = ("strong", "possible", "none")
DISPOSITIONS = ("confirmed", "not_a_match", "inconclusive", "no_action")
PENDING = "pending"  # a search with no disposition recorded after it
# a search judged "confirmed" for a look-alike shown beside a strong candidate (its
# ``lookalike_of``): the person was the look-alike, so that candidate was not a match
LOOKALIKE_CONFIRMED = "lookalike_confirmed"

Section = Mapping[str, Any]


@dataclass(frozen=True)
class OversightReport:
    """Every figure of one window, computed from the audit log alone.

    Each section is a plain JSON-ready mapping (see ``mobileid.oversight`` for the layout);
    treat them as read-only: ``as_dict`` hands out a deep copy. ``chain`` is the verification
    of the very entries the figures were counted from, so a reader knows how far to trust them.
    """

    date_from: date
    date_to: date
    chain: VerifyReport
    log: Section  # how the window's entries stand against the chain
    events: Section
    searches: Section
    super_queries: Section
    legal_authorities: Section
    reach: Section
    bands: Section
    dispositions: Section
    training_vs_live: Section
    certification: Section
    access: Section
    retention: Section
    accuracy: Sequence[Section]
    generated_at: str | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def as_dict(self) -> dict[str, Any]:
        body = {
            "report": "oversight",
            "format": FORMAT,
            "window": {
                "from": self.date_from.isoformat(),
                "to": self.date_to.isoformat(),
                "days": self.days,
                "timezone": "UTC",
            },
            "generated_at": self.generated_at,
            "as_of_sequence": self.chain.head_sequence,
            "notice": NOTICE,
            "chain": {**self.chain.as_dict(), **self.log},
            "events": self.events,
            "searches": self.searches,
            "super_queries": self.super_queries,
            "legal_authorities": self.legal_authorities,
            "reach": self.reach,
            "bands": self.bands,
            "dispositions": self.dispositions,
            "training_vs_live": self.training_vs_live,
            "certification": self.certification,
            "access": self.access,
            "retention": self.retention,
            "accuracy": list(self.accuracy),
        }
        return copy.deepcopy(body)
