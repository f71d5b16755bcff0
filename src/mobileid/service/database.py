"""The deployment's main database: opened from its URL, upgraded, earlier files adopted."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from mobileid.auth.legacy import adopt_operators_file
from mobileid.config import Settings
from mobileid.database import close_database, open_database

LEGACY_OPERATORS_FILE = "operators.sqlite3"


def open_main_database(settings: Settings) -> Engine:
    """The shared engine of ``settings.main_database_url``, at the newest schema, with the
    operators of an earlier release's own file moved in. Release it with ``close_database``."""
    engine = open_database(settings.main_database)
    try:
        adopt_operators_file(settings.data_dir / LEGACY_OPERATORS_FILE, engine)
    except BaseException:
        close_database(engine)
        raise
    return engine
