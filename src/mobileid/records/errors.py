"""Errors of the records package, placed in the one hierarchy of :mod:`mobileid.errors`.

::

    InputError
    ├── ImportRejected      a file with at least one invalid row; nothing was written
    └── InvalidQuery        a super query with no usable key, or a malformed one
    NotFound
    └── UnknownSource       a source name that is not in the registry
    MobileIdError
    └── SourceUnavailable   a source that refused, failed or broke while being written
"""

from __future__ import annotations

from dataclasses import dataclass

from mobileid.errors import InputError, MobileIdError, NotFound


@dataclass(frozen=True)
class RowError:
    """One problem in an import file. ``row`` counts data rows from 1; 0 means the header."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        where = "header" if self.row == 0 else f"row {self.row}"
        return f"{where}: {self.field}: {self.message}"


class ImportRejected(InputError):
    """The whole file was refused; ``errors`` lists every problem found, row-numbered."""

    code = "import_rejected"
    exit_code = 2
    shown = 20  # the message repeats this many errors; ``errors`` holds them all

    def __init__(self, file: str, errors: tuple[RowError, ...]) -> None:
        head = "; ".join(str(e) for e in errors[: self.shown])
        more = f"; ... and {len(errors) - self.shown} more" if len(errors) > self.shown else ""
        super().__init__(
            f"{file}: rejected, nothing imported: {len(errors)} problem(s): {head}{more}",
            field="FILE",
        )
        self.errors = errors


class InvalidQuery(InputError):
    code = "invalid_query"
    exit_code = 2


class UnknownSource(NotFound):
    code = "unknown_source"
    exit_code = 5


class SourceUnavailable(MobileIdError):
    code = "source_unavailable"
    exit_code = 10
