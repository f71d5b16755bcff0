"""Finger templates get a change log, written by the database itself.

A loaded finger gallery checked that it was current by counting the gallery's rows before
every search (~0.6 s at a million templates under load). Each insert, delete (a subject's
deletion cascades to its prints) or update of what a loaded set holds now appends a sequence
number naming the row, so the check is one index lookup and a catch-up reads only the rows
touched since (``gallery/finger_changes.py``).

Triggers rather than application code: rows leave by paths that never name them (the foreign
key's cascade), and every path is covered at once. On PostgreSQL the trigger takes the log's
lock first, so sequence numbers commit in order (a reader that saw 11 never misses 10
committed after it); SQLite serialises writers already.

A later migration that rebuilds ``finger_templates`` (``batch_alter_table`` copies the table on
SQLite) drops these triggers and must create them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0005"
down_revision = "m0004"
branch_labels = None
depends_on = None

# What a loaded set holds of a row: a change to any of these must reach it.
_WATCHED = "subject_id, gallery, position, pipeline_id, screen_code"
_LOG = "INSERT INTO finger_template_changes (gallery, template_id)"

_SQLITE = [
    f"""CREATE TRIGGER finger_template_added AFTER INSERT ON finger_templates
    BEGIN {_LOG} VALUES (NEW.gallery, NEW.id); END""",
    f"""CREATE TRIGGER finger_template_removed AFTER DELETE ON finger_templates
    BEGIN {_LOG} VALUES (OLD.gallery, OLD.id); END""",
    f"""CREATE TRIGGER finger_template_updated AFTER UPDATE OF {_WATCHED} ON finger_templates
    BEGIN {_LOG} VALUES (OLD.gallery, OLD.id); {_LOG} VALUES (NEW.gallery, NEW.id); END""",
]

_POSTGRES = [
    f"""CREATE FUNCTION finger_template_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        LOCK TABLE finger_template_changes IN SHARE ROW EXCLUSIVE MODE;
        IF TG_OP <> 'INSERT' THEN {_LOG} VALUES (OLD.gallery, OLD.id); END IF;
        IF TG_OP <> 'DELETE' THEN {_LOG} VALUES (NEW.gallery, NEW.id); END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER finger_template_changed
    AFTER INSERT OR DELETE OR UPDATE OF {_WATCHED} ON finger_templates
    FOR EACH ROW EXECUTE PROCEDURE finger_template_changed()""",
]


def upgrade() -> None:
    op.create_table(
        "finger_template_changes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("gallery", sa.String(64), nullable=False),
        sa.Column("template_id", sa.Integer, nullable=False),
        sa.Index("ix_finger_changes_gallery_seq", "gallery", "seq"),
        sqlite_autoincrement=True,
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRES if postgres else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER finger_template_changed ON finger_templates")
        op.execute("DROP FUNCTION finger_template_changed()")
    else:
        for name in ("added", "removed", "updated"):
            op.execute(f"DROP TRIGGER finger_template_{name}")
    op.drop_table("finger_template_changes")
