"""The training range's records: each operator's scored practice searches and their
certifications, kept in the main database in tables of their own.

The decisions (who may certify, whether a record meets the criteria, whether a live search may
run) are use cases in :mod:`mobileid.service.training`; this package only stores and counts.
"""

from mobileid.training.store import TrainingStore
from mobileid.training.values import (
    Certification,
    CertificationState,
    PracticeScore,
    TrainingFigures,
)

__all__ = [
    "Certification",
    "CertificationState",
    "PracticeScore",
    "TrainingFigures",
    "TrainingStore",
]
