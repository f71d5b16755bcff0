"""A unit of work: one transaction on the main database, opened by the service.

A use case that changes data opens one, hands it to each store's write method (gallery,
finger templates, reference photos, retention rules...) and appends its audit entry through
the same unit, so the change and its entry commit together or not at all::

    log = ctx.audit  # opened before the unit: opening it inside would wait on its own lock
    with UnitOfWork(ctx.engine) as uow:
        subject, added = ctx.gallery.enrol(..., uow=uow)
        log.append(uow, AuditEvent(...))

Leaving the block commits; an error inside it rolls everything back. Stores never commit a
unit they were given. Work that must follow the commit (an index dropping removed vectors)
is registered with ``after_commit`` and runs only once the data it reflects is durable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction

from mobileid.errors import InvalidArgument


class UnitOfWork:
    """One transaction on ``engine``: commit when the ``with`` block ends, rollback on error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session: Session | None = None
        self._transaction: SessionTransaction | None = None
        self._after_commit: list[Callable[[], object]] = []
        self._failed: BaseException | None = None

    @property
    def session(self) -> Session:
        """The unit's session (only inside its ``with`` block)."""
        if self._session is None:
            raise InvalidArgument(
                "unit of work: expected one inside its `with` block, got one not open",
                field="uow",
            )
        return self._session

    def after_commit(self, action: Callable[[], object]) -> None:
        """Run ``action`` once the unit has committed (never when it rolls back); an action
        registered again (the same bound method, say) still runs once."""
        if action not in self._after_commit:
            self._after_commit.append(action)

    def __enter__(self) -> UnitOfWork:
        if self._session is not None:
            raise InvalidArgument(
                "unit of work: expected a new unit, got one already open", field="uow"
            )
        self._session = Session(self.engine)
        self._transaction = self._session.begin()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, transaction = self.session, self._transaction
        assert transaction is not None  # set with the session
        try:
            if error is None and self._failed is None:
                transaction.commit()
            else:
                transaction.rollback()
        finally:
            session.close()
            self._session = self._transaction = None
        actions, self._after_commit = self._after_commit, []
        if error is None and self._failed is not None:
            # A store's write failed inside the unit and the caller carried on: its other
            # writes must not commit without it.
            raise self._failed
        if error is None:
            _run_all(actions)

    def check_engine(self, engine: Engine) -> None:
        """A store accepts only a unit on its own database (one transaction, one engine)."""
        if engine is not self.engine:
            raise InvalidArgument(
                f"unit of work: expected one on {engine.url.render_as_string()}, got one on "
                f"{self.engine.url.render_as_string()}",
                field="uow",
            )


def _run_all(actions: list[Callable[[], object]]) -> None:
    """Each action is separate follow-up work (an index dropping vectors, the log copying its
    signed heads to the witness): one failing must not skip the others. The first failure is
    raised once all have run."""
    first: Exception | None = None
    for action in actions:
        try:
            action()
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


@contextmanager
def within(engine: Engine, uow: UnitOfWork | None) -> Iterator[UnitOfWork]:
    """The caller's unit, or (None) one of the store's own, committed at the end: how a
    store's write method runs. A failure inside marks the caller's unit for rollback."""
    if uow is None:
        with UnitOfWork(engine) as own:
            yield own
        return
    uow.check_engine(engine)
    try:
        yield uow
    except BaseException as exc:
        uow._failed = exc
        raise
