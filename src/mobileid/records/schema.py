"""The tables of one record source, and the Alembic migrations that create them.

A record is stored whole as its JSON payload; what is searched is stored beside it: exact keys
(plate, VIN, phone, ...) in ``record_keys`` and person names, under a blocking key, in
``record_names``. Records are only ever read by key, so one payload column keeps the seven
record types in one schema that needs no migration when a type gains a field, while every
search still runs on an index. Migrations live in ``migrations/`` inside the package and run
programmatically; no alembic.ini is needed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Engine

ID_LEN = 64
KEY_LEN = 256  # a normalised address is a key too
NAME_LEN = 256

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("record_id", String(ID_LEN), primary_key=True),
    Column("record_type", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("synthetic", Boolean, nullable=False),
    Column("imported_at", String(32), nullable=False),
)

record_keys = Table(
    "record_keys",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("value", String(KEY_LEN), primary_key=True),
    Column(
        "record_id",
        String(ID_LEN),
        ForeignKey("records.record_id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

record_names = Table(
    "record_names",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("block", String(16), nullable=False),
    Column("name", String(NAME_LEN), nullable=False),
    Column(
        "record_id",
        String(ID_LEN),
        ForeignKey("records.record_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Index("ix_record_names_block", "block"),
)

links = Table(
    "links",
    metadata,
    Column("from_id", String(ID_LEN), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("to_id", String(ID_LEN), primary_key=True),
    Index("ix_links_to", "to_id"),
)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None  # the package ships at least one migration
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the source's schema to the newest migration (a no-op when it is there)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
