"""Key rotation of one sealed table, a batch of rows per transaction.

Reference photos and finger templates rotate the same way (only what one row holds differs),
so the batching, the skip of rows already under the new key and the count live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import InstrumentedAttribute, Session

from mobileid.errors import InvalidArgument

__all__ = ["reseal_in_batches"]


class _SealedRow(Protocol):
    id: Any
    key_id: Any


_R = TypeVar("_R", bound=_SealedRow)


def reseal_in_batches(
    engine: Engine,
    table: type[_R],
    new_key_id: str,
    reseal_row: Callable[[_R], None],
    *,
    batch: int,
) -> int:
    """Call ``reseal_row`` on every row of ``table`` not yet under ``new_key_id``, in id
    order, ``batch`` rows per transaction. Rows already under it are skipped, so a rerun
    finishes an interrupted rotation. Returns the rows re-sealed."""
    if batch < 1:
        raise InvalidArgument(f"batch: expected >= 1, got {batch}", field="batch")
    id_col: InstrumentedAttribute[int] = table.id
    key_col: InstrumentedAttribute[str] = table.key_id
    last_id, total = 0, 0
    while True:
        with Session(engine) as s, s.begin():
            q = select(table).where(id_col > last_id, key_col != new_key_id)
            rows = s.scalars(q.order_by(id_col).limit(batch)).all()
            for row in rows:
                last_id = row.id
                reseal_row(row)
            total += len(rows)
        if len(rows) < batch:
            return total
