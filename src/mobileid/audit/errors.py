"""Errors of the audit log, attached to the one tree in :mod:`mobileid.errors`.

::

    MobileIdError
    ├── InputError
    │   └── InvalidArgument
    │       └── BiometricDataRefused   an event's details hold (or look like) biometric data
    ├── AuditIntegrityError            the log or its checkpoints are not what was written
    └── AuditKeyError                  the checkpoint key is missing, unreadable or exposed
"""

from __future__ import annotations

from mobileid.errors import InvalidArgument, MobileIdError


class BiometricDataRefused(InvalidArgument):
    """The audit log never holds images, embeddings, templates or anything like them."""

    code = "biometric_data_refused"
    exit_code = 2


class AuditIntegrityError(MobileIdError):
    """Verification found an edited, missing, inserted or reordered entry or a bad checkpoint."""

    code = "audit_integrity"
    exit_code = 7


class AuditKeyError(MobileIdError):
    """The checkpoint signing key cannot be used as it is."""

    code = "audit_key"
    exit_code = 8
