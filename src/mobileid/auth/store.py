"""Tables of operators, entitlements, sessions and API tokens, in the main database (created
by its migrations), so that an operator change and its audit entry commit together.

No password, TOTP secret, session id or API token is stored in the clear: passwords as argon2
hashes, TOTP secrets sealed with AES-GCM under the deployment key, session ids and tokens as
SHA-256 digests (they are long random strings, so a plain digest is enough).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mobileid.database import open_database


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes stored as fixed-width ISO text (sorts as text sorts)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class AuthBase(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}  # noqa: RUF012


class OperatorRow(AuthBase):
    __tablename__ = "auth_operators"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(512))
    totp_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    totp_key_id: Mapped[str] = mapped_column(String(16))
    last_totp_step: Mapped[int | None] = mapped_column()
    failed_logons: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    last_logon_at: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()


class EntitlementRow(AuthBase):
    __tablename__ = "auth_entitlements"
    __table_args__ = (UniqueConstraint("operator_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("auth_operators.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "gallery" or "source"
    name: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column()
    granted_by: Mapped[str] = mapped_column(String(128))


class SessionRow(AuthBase):
    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("auth_operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[str | None] = mapped_column(String(32))


class ApiTokenRow(AuthBase):
    __tablename__ = "auth_api_tokens"

    token_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("auth_operators.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(1024))  # space-separated action names
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(128))
    last_used_at: Mapped[datetime | None] = mapped_column()


class ClockRow(AuthBase):
    """One row: the highest auth time seen and the backward jumps absorbed (see clock.py)."""

    __tablename__ = "auth_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    high_water: Mapped[datetime] = mapped_column()
    offset_us: Mapped[int] = mapped_column(BigInteger, default=0)  # may pass 2**31 us


def open_auth_engine(path: Path) -> Engine:
    """The engine of the main database in the SQLite file at ``path`` (created and upgraded
    as needed, operators' tables included); release it with ``close_database``."""
    return open_database(path)
