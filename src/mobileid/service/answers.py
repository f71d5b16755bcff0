"""The JSON answers of the use cases: one function per typed result, shared by every front end.

The keys are the stable interface of ``identify ... --json``, ``query --json`` and the HTTP
service (see the design notes): extend them, never rename them. Rates are fractions;
non-finite floats become null (JSON has no NaN).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mobileid.service.enrol import EnrolReport
from mobileid.service.fingers import FingerIdentifyResult
from mobileid.service.identify import IdentifyResult
from mobileid.service.person import PersonIdentifyResult
from mobileid.service.super_query import SuperQueryResult
from mobileid.types import Subject

_REASON_KEYS = ("search_id", "modality", "purpose", "legal_authority", "case_number", "training")


def json_safe(value: Any) -> Any:
    """JSON-safe: non-finite floats become null (``json`` would write NaN)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return None
    return value


def _ranked(candidates: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{**asdict(c), "band": c.band.value, "rank": i + 1} for i, c in enumerate(candidates)]


def identify_json(result: IdentifyResult) -> dict[str, Any]:
    """The answer of a face search (``identify face --json``)."""
    return {
        "search_id": result.search_id,
        "purpose": result.reason.purpose,
        "legal_authority": result.reason.legal_authority,
        "case_number": result.reason.case_number,
        "training": not result.reason.live,
        "candidates": _ranked(result.candidates),
        "pipeline_id": result.pipeline_id,
        "notice": result.notice,
        "galleries": list(result.galleries),
        "gallery_sizes": result.gallery_sizes,
        "thresholds": result.thresholds,
        "fmr_bounds": result.fmr_bounds,
        "expected_false_candidates": result.expected_false,
        "faces_seen": result.faces_seen,
        "face_rule": result.face_rule,
        "quality": asdict(result.quality),
        "calibration": result.calibration,
        "calibration_stratum": result.calibration_stratum,
        "scoring": result.scoring,
        **({"practice": result.practice.as_dict()} if result.practice is not None else {}),
    }


def identify_finger_json(result: FingerIdentifyResult) -> dict[str, Any]:
    """The answer of a finger search (keys as ``identify face`` where they agree)."""
    r = result.reason
    return {
        "search_id": result.search_id,
        "modality": "finger",
        "purpose": r.purpose,
        "legal_authority": r.legal_authority,
        "case_number": r.case_number,
        "training": not r.live,
        "candidates": _ranked(result.candidates),
        "pipeline_id": result.pipeline_id,
        "notice": result.notice,
        "galleries": list(result.galleries),
        "gallery_sizes": result.gallery_sizes,
        "probes": [asdict(p) for p in result.probes],
        "thresholds": result.thresholds,
        "fmr_bounds": result.fmr_bounds,
        "fmr_resolution": result.fmr_resolution,
        "expected_false_candidates": result.expected_false,
        "fusion_rule": result.fusion_rule,
        "calibration": result.calibration,
        "contactless": result.contactless,
        "calibrations": [asdict(u) for u in result.calibrations],
        "refused_fingertips": list(result.refused_fingertips),
        **({"practice": result.practice.as_dict()} if result.practice is not None else {}),
    }


def person_json(result: PersonIdentifyResult) -> dict[str, Any]:
    """The answer of a fused search: ``identify face`` keys where they agree, and each
    modality's own answer under ``face`` and ``finger``."""
    r = result.reason
    face = {k: v for k, v in identify_json(result.face).items() if k not in _REASON_KEYS}
    finger = {
        k: v for k, v in identify_finger_json(result.fingers).items() if k not in _REASON_KEYS
    }
    out = {
        "search_id": result.search_id,
        "modality": "face+finger",
        "purpose": r.purpose,
        "legal_authority": r.legal_authority,
        "case_number": r.case_number,
        "training": not r.live,
        "candidates": _ranked(result.candidates),
        "notice": result.notice,
        "galleries": list(result.galleries),
        "fmr_bounds": result.fmr_bounds,
        "fmr_resolution": result.fmr_resolution,
        "fusion_rule": result.fusion_rule,
        "face": face,
        "finger": finger,
        **({"practice": result.practice.as_dict()} if result.practice is not None else {}),
    }
    return dict(json_safe(out))


def query_json(search_id: str, result: SuperQueryResult) -> dict[str, Any]:
    """The answer of a super query (``query --json``)."""
    from mobileid.records.serial import record_to_dict

    return {
        "search_id": search_id,
        "query": {k: v for k, v in asdict(result.query).items() if v},
        "complete": result.complete,
        "sources": [{**asdict(o), "state": o.state.value} for o in result.sources],
        "hits": [
            {
                "source": h.source,
                "record_type": h.record.record_type.value,
                "record_id": h.record.record_id,
                "reason": h.reason,
                "score": h.score,
                "hop": h.hop,
                "via": h.via,
                "synthetic": h.record.synthetic,
                "record": record_to_dict(h.record),
            }
            for h in result.hits
        ],
        "links": [asdict(lk) for lk in result.links],
        "notice": result.notice,
    }


def enrol_json(report: EnrolReport) -> dict[str, Any]:
    return asdict(report)


def subject_json(subject: Subject) -> dict[str, Any]:
    return asdict(subject)


def subjects_json(subjects: list[Subject]) -> dict[str, Any]:
    return {"subjects": [asdict(s) for s in subjects]}


def deleted_json(subject: Subject) -> dict[str, Any]:
    return {"deleted": asdict(subject)}
