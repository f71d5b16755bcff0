"""mobileid: accountable, self-hosted mobile biometric identification.

A search returns candidates for a person to review, never an identification.
"""

__version__ = "0.1.0"

NOTICE = (
    "Candidates are leads for human review, not identifications. "
    "Confirm identity by other means before taking any action."
)
