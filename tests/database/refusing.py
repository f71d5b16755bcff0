"""A real database made to refuse some audit entries: a trigger that aborts the insert of any
entry whose details hold a given word, as a full disk or a failing constraint would. Nothing
is mocked: the store, the log and the unit of work run as in a deployment."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

_PG_FUNCTION = """
CREATE FUNCTION mobileid_test_refuse() RETURNS trigger AS $$
BEGIN
  IF NEW.details LIKE TG_ARGV[0] THEN RAISE EXCEPTION 'audit insert refused by the test'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


def refuse_entries_mentioning(engine: Engine, word: str) -> None:
    """From now on, inserting an audit entry whose details contain ``word`` fails."""
    pattern = f"%{word}%".replace("'", "''").replace(":", "\\:")  # text() reads :x as a parameter
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER mobileid_test_refuse BEFORE INSERT ON audit_entries "
                    f"WHEN NEW.details LIKE '{pattern}' "
                    "BEGIN SELECT RAISE(ABORT, 'audit insert refused by the test'); END"
                )
            )
            return
        conn.execute(text(_PG_FUNCTION))
        conn.execute(
            text(
                "CREATE TRIGGER mobileid_test_refuse BEFORE INSERT ON audit_entries FOR EACH ROW "
                f"EXECUTE FUNCTION mobileid_test_refuse('{pattern}')"
            )
        )


def accept_entries_again(engine: Engine) -> None:
    """Drop the trigger: the database accepts every entry again."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER mobileid_test_refuse"))
            return
        conn.execute(text("DROP TRIGGER mobileid_test_refuse ON audit_entries"))
        conn.execute(text("DROP FUNCTION mobileid_test_refuse()"))
