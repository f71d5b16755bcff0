"""The exact bytes that are hashed and signed, and the checks on what may enter the log.

An outsider re-implements these three rules to verify a log without mobileid:

* canonical JSON: keys sorted, no whitespace, UTF-8, no NaN or infinity;
* entry hash: SHA-256 hex of the canonical JSON of every entry field except the hash itself;
* checkpoint message: canonical JSON of ``format``, ``sequence``, ``entry_hash``, ``time`` and
  ``key_id``, signed with Ed25519.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mobileid.audit.errors import BiometricDataRefused
from mobileid.audit.model import AuditEvent, Checkpoint, EventType, Outcome
from mobileid.errors import InvalidArgument

CHECKPOINT_FORMAT = "mobileid-audit-checkpoint/1"

# Word parts of a details key that name a biometric payload...
_BIOMETRIC_WORDS = frozenset(
    {"image", "images", "embedding", "embeddings", "template", "templates", "vector", "vectors"}
    | {"pixel", "pixels", "minutiae", "photo", "photos", "biometric", "biometrics"}
)
# ...unless the key's last word says it is only metadata about one (``images_added``).
_METADATA_WORDS = frozenset(
    {"count", "counts", "added", "removed", "deleted", "skipped", "seen", "sha256", "hash"}
    | {"id", "ids", "format", "formats"}
)
_MAX_NUMBERS = 64  # a list of more numbers than this looks like a vector, whatever its key
_MAX_STRING = 4096  # a longer string could be an encoded image
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_payload(
    *,
    sequence: int,
    time: str,
    operator: str,
    role: str,
    event: str,
    component: str,
    outcome: str,
    details: Mapping[str, Any],
    clock_regressed: bool,
    prev_hash: str,
) -> dict[str, Any]:
    """The hashed fields of an entry, under the names an outside verifier uses."""
    return {
        "sequence": sequence,
        "time": time,
        "operator": operator,
        "role": role,
        "event": event,
        "component": component,
        "outcome": outcome,
        "details": dict(details),
        "clock_regressed": clock_regressed,
        "prev_hash": prev_hash,
    }


def hash_payload(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def checkpoint_message(sequence: int, entry_hash: str, time: str, key_id: str) -> bytes:
    return canonical_json(
        {
            "format": CHECKPOINT_FORMAT,
            "sequence": sequence,
            "entry_hash": entry_hash,
            "time": time,
            "key_id": key_id,
        }
    )


def message_of(checkpoint: Checkpoint) -> bytes:
    return checkpoint_message(
        checkpoint.sequence, checkpoint.entry_hash, checkpoint.time, checkpoint.key_id
    )


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds; a clock must give timezone-aware times."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidArgument(
            f"clock: expected a timezone-aware datetime, got naive {moment.isoformat()}",
            field="clock",
        )
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def check_text(name: str, value: object, max_len: int = 256) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidArgument(
            f"{name}: expected a non-empty string of at most {max_len} characters, "
            f"got {value!r:.80}",
            field=name,
        )
    return value


def check_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A plain JSON object safe to log; refuses anything that holds or looks like biometrics."""
    if not isinstance(details, Mapping):
        raise InvalidArgument(
            f"details: expected a JSON object, got {type(details).__name__}", field="details"
        )
    checked = _check_value("details", details)
    # A round trip proves the value encodes canonically (no NaN, no exotic numbers).
    decoded: dict[str, Any] = json.loads(canonical_json(checked))
    return decoded


def check_event(event: AuditEvent) -> AuditEvent:
    """``event`` with its fields checked (``check_text``, ``check_details``); only the log
    itself writes ``checkpoint`` entries."""
    try:
        kind, outcome = EventType(event.event), Outcome(event.outcome)
    except ValueError as exc:
        raise InvalidArgument(
            f"event: expected a known event type and outcome, got {exc}", field="event"
        ) from None
    if kind is EventType.CHECKPOINT:
        raise InvalidArgument(
            "event: expected any event but 'checkpoint' (only the log writes those), "
            "got 'checkpoint'",
            field="event",
        )
    return AuditEvent(
        event=kind,
        operator=check_text("operator", event.operator),
        role=check_text("role", event.role, 64),
        component=check_text("component", event.component, 64),
        outcome=outcome,
        details=check_details(event.details),
    )


def _check_value(path: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and len(value) > _MAX_STRING:
            raise BiometricDataRefused(
                f"{path}: expected a string of at most {_MAX_STRING} characters, got "
                f"{len(value)} (long blobs are not logged)",
                field=path,
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{path}: expected a finite number, got {value}", field=path)
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(f"{path}: expected string keys, got {key!r:.40}", field=path)
            _check_key(f"{path}.{key}", key)
            out[key] = _check_value(f"{path}.{key}", item)
        return out
    if isinstance(value, list | tuple):
        if sum(isinstance(v, int | float) for v in value) > _MAX_NUMBERS:
            raise BiometricDataRefused(
                f"{path}: expected at most {_MAX_NUMBERS} numbers in a list, got {len(value)} "
                "(that looks like an embedding or template)",
                field=path,
            )
        return [_check_value(f"{path}[{i}]", v) for i, v in enumerate(value)]
    raise InvalidArgument(
        f"{path}: expected JSON (object, list, string, number, bool, null), got "
        f"{type(value).__name__}",
        field=path,
    )


def _check_key(path: str, key: str) -> None:
    words = [w.lower() for w in _WORD.findall(key)]
    if any(w in _BIOMETRIC_WORDS for w in words) and words[-1] not in _METADATA_WORDS:
        raise BiometricDataRefused(
            f"{path}: expected no biometric data in the audit log, got a key named {key!r} "
            "(images, embeddings, templates, vectors and pixels are never logged)",
            field=path,
        )
