"""Roles, actions and the one table that says which role may do what.

Least privilege: nobody both administers the system and searches it, and the auditor who reads
the log cannot create entries in it by searching. A trainee reaches the training range only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from types import MappingProxyType

from mobileid.auth.errors import UnknownAction, UnknownRole


class Role(enum.StrEnum):
    OFFICER = "officer"  # searches
    SUPERVISOR = "supervisor"  # reviews dispositions, runs reports
    AUDITOR = "auditor"  # reads the audit log and reports; cannot search
    ADMIN = "admin"  # manages operators, galleries, sources, purposes; cannot search
    TRAINEE = "trainee"  # training range only


class Action(enum.StrEnum):
    SEARCH_LIVE = "search_live"
    SEARCH_TRAINING = "search_training"
    VIEW_RECORD = "view_record"
    RECORD_DISPOSITION = "record_disposition"
    REVIEW = "review"
    CERTIFY_OPERATORS = "certify_operators"
    RUN_REPORT = "run_report"
    READ_AUDIT = "read_audit"
    EXPORT_AUDIT = "export_audit"
    MANAGE_OPERATORS = "manage_operators"
    MANAGE_GALLERIES = "manage_galleries"
    MANAGE_SOURCES = "manage_sources"
    MANAGE_PURPOSES = "manage_purposes"
    MANAGE_THRESHOLDS = "manage_thresholds"


_A = Action

PERMISSIONS: MappingProxyType[Role, frozenset[Action]] = MappingProxyType(
    {
        Role.OFFICER: frozenset(
            {_A.SEARCH_LIVE, _A.SEARCH_TRAINING, _A.VIEW_RECORD, _A.RECORD_DISPOSITION}
        ),
        Role.SUPERVISOR: frozenset(
            {_A.REVIEW, _A.RUN_REPORT, _A.VIEW_RECORD, _A.CERTIFY_OPERATORS}
        ),
        Role.AUDITOR: frozenset({_A.READ_AUDIT, _A.EXPORT_AUDIT, _A.RUN_REPORT}),
        Role.ADMIN: frozenset(
            {
                _A.MANAGE_OPERATORS,
                _A.MANAGE_GALLERIES,
                _A.MANAGE_SOURCES,
                _A.MANAGE_PURPOSES,
                _A.MANAGE_THRESHOLDS,
            }
        ),
        Role.TRAINEE: frozenset({_A.SEARCH_TRAINING}),
    }
)
"""Role -> the actions it allows. The only place permissions are decided."""

ENTITLEMENT_BOUND: frozenset[Action] = frozenset(
    {_A.SEARCH_LIVE, _A.SEARCH_TRAINING, _A.VIEW_RECORD, _A.RECORD_DISPOSITION}
)
"""Actions that reach data: each gallery or record source they touch must also be granted to
the operator (a disposition concerns a gallery's subject). Management actions are decided by
role alone."""


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise UnknownRole(
            f"role: expected one of {', '.join(r.value for r in Role)}, got {value!r}",
            field="role",
        ) from None


def parse_action(value: str) -> Action:
    try:
        return Action(value.strip().lower())
    except ValueError:
        raise UnknownAction(
            f"action: expected one of {', '.join(a.value for a in Action)}, got {value!r}",
            field="action",
        ) from None


def parse_actions(values: Iterable[str]) -> frozenset[Action]:
    return frozenset(parse_action(v) for v in values)


def allowed(role: Role, action: Action) -> bool:
    return action in PERMISSIONS[role]
