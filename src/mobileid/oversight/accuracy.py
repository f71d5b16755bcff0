"""The accuracy figures of the current pipelines, as the last ``eval`` runs left them.

Each ``*.json`` in the eval folder is one measurement with at least ``pipeline_id`` and its
metric keys. Per (kind, pipeline id) only the newest counts: by its ``measured_at`` when it has
one, else by the file's modification time. A file that cannot be used is not skipped in
silence: it appears as an entry with ``error``, so the report shows it was there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_META = frozenset({"kind", "protocol", "pipeline_id", "dataset", "root", "measured_at"})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _when(data: dict[str, Any], path: Path) -> datetime:
    stamp = data.get("measured_at")
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass  # an unreadable stamp: the file's own time is the next best witness
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _figure(data: dict[str, Any], path: Path, when: datetime) -> dict[str, Any]:
    given = data.get("metrics")
    metrics = given if isinstance(given, dict) else data
    return {
        "kind": str(data.get("kind") or data.get("protocol") or path.stem),
        "pipeline_id": data["pipeline_id"],
        "dataset": data.get("dataset") or data.get("root"),
        "metrics": {k: v for k, v in metrics.items() if k not in _META and _number(v)},
        "date": when.isoformat(timespec="seconds"),
        "file": path.name,
    }


def load_accuracy(eval_dir: Path) -> list[dict[str, Any]]:
    """The newest measurement per (kind, pipeline id) in ``eval_dir``; [] when it is absent."""
    newest: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = {}
    problems: list[dict[str, Any]] = []
    for path in sorted(eval_dir.glob("*.json")) if eval_dir.is_dir() else ():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("pipeline_id"), str):
                raise ValueError("expected a JSON object with a pipeline_id string")
        except (OSError, ValueError) as exc:
            problems.append({"file": path.name, "error": str(exc)})
            continue
        when = _when(data, path)
        figure = _figure(data, path, when)
        key = (figure["kind"], figure["pipeline_id"])
        if key not in newest or when > newest[key][0]:
            newest[key] = (when, figure)
    return [newest[k][1] for k in sorted(newest)] + problems
