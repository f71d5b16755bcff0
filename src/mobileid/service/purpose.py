"""Why a search is run: a configured purpose, the legal authority it maps to, a case number.

Deployers list their purposes in ``DATA_DIR/purposes.json``::

    {"purposes": [{"code": "warrant-check", "description": "...",
                   "legal_authority": "Statute 12 s.4", "live": true}]}

A purpose with no legal authority cannot be used. The ``training`` purpose always exists
(unless the file redefines it) and reaches training galleries only; without the file it is
the only one. Every check here runs before any
search, so a refused request has done nothing but be refused (and audited by the caller).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mobileid.errors import InvalidArgument

CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.:#-]{2,63}$")
MAX_LOCATION = 200

TRAINING = "training"


@dataclass(frozen=True)
class PurposeRule:
    code: str
    description: str
    legal_authority: str
    live: bool  # may reach live galleries; False: training range only


@dataclass(frozen=True)
class SearchReason:
    """What every search carries into its answer and its audit entry."""

    purpose: str
    legal_authority: str
    case_number: str
    location: str | None
    live: bool


DEFAULT_RULES = (
    PurposeRule(
        code=TRAINING,
        description="operator practice on the training range (non-live, isolated galleries)",
        legal_authority="training range: synthetic or consented data only, no live records",
        live=False,
    ),
)


@dataclass(frozen=True)
class Purposes:
    rules: tuple[PurposeRule, ...] = DEFAULT_RULES

    @classmethod
    def load(cls, path: Path) -> Purposes:
        """The deployer's purposes file, or the defaults when it does not exist."""
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            items = data["purposes"]
            rules = tuple(
                PurposeRule(
                    code=str(p["code"]),
                    description=str(p.get("description", "")),
                    legal_authority=str(p.get("legal_authority") or "").strip(),
                    live=bool(p.get("live", True)),
                )
                for p in items
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(
                f"purposes file {path}: expected {{'purposes': [{{'code', 'legal_authority', "
                f"...}}]}}, got an unreadable or malformed file ({exc})",
                field="purposes",
            ) from None
        if any(r.code == TRAINING and r.live for r in rules):
            raise InvalidArgument(
                f"purposes file {path}: expected the {TRAINING!r} purpose to stay training-only "
                "(it reaches training galleries and synthetic sources), got it marked live",
                field="purposes",
            )
        if not any(r.code == TRAINING for r in rules):
            rules = DEFAULT_RULES + rules  # the training range is always there
        return cls(rules=rules)

    def codes(self) -> list[str]:
        return [r.code for r in self.rules if r.legal_authority]

    def reason(
        self, purpose: str | None, case_number: str | None, location: str | None = None
    ) -> SearchReason:
        """Check the stated reason for a search; InvalidArgument names what is wrong."""
        rule = next((r for r in self.rules if r.code == purpose), None)
        if rule is None:
            raise InvalidArgument(
                f"purpose: expected one of {self.codes()}, got {purpose!r}", field="purpose"
            )
        if not rule.legal_authority:
            raise InvalidArgument(
                f"purpose: {purpose!r} has no legal authority configured, so it cannot be used",
                field="purpose",
            )
        if not case_number or not CASE_NUMBER.match(case_number):
            raise InvalidArgument(
                "case_number: expected 3-64 letters, digits or / _ . : # - (starting with a "
                f"letter or digit), got {case_number!r}",
                field="case_number",
            )
        if location is not None and (len(location) > MAX_LOCATION or not location.strip()):
            raise InvalidArgument(
                f"location: expected 1-{MAX_LOCATION} characters, got {len(location)}",
                field="location",
            )
        return SearchReason(
            purpose=rule.code,
            legal_authority=rule.legal_authority,
            case_number=case_number,
            location=location.strip() if location else None,
            live=rule.live,
        )
