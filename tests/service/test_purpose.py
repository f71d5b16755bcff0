"""Every search states why: purposes, legal authorities and case numbers are checked first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobileid.errors import InvalidArgument
from mobileid.service.purpose import TRAINING, Purposes


@pytest.fixture
def purposes(tmp_path):
    path = tmp_path / "purposes.json"
    path.write_text(
        json.dumps(
            {
                "purposes": [
                    {"code": "warrant", "legal_authority": "Criminal Procedure Act s.12"},
                    {"code": "welfare", "legal_authority": ""},
                ]
            }
        )
    )
    return Purposes.load(path)


def test_configured_purpose_maps_to_its_authority(purposes):
    """A known purpose yields its legal authority, the case number and a live flag."""
    r = purposes.reason("warrant", "CASE-2026/0042", "Main St")
    assert (r.legal_authority, r.case_number, r.location, r.live) == (
        "Criminal Procedure Act s.12",
        "CASE-2026/0042",
        "Main St",
        True,
    )


@pytest.mark.parametrize(
    ("purpose", "case", "field"),
    [
        (None, "C-1234", "purpose"),
        ("curiosity", "C-1234", "purpose"),
        ("welfare", "C-1234", "purpose"),  # no authority configured: unusable
        ("warrant", None, "case_number"),
        ("warrant", "", "case_number"),
        ("warrant", "x", "case_number"),
        ("warrant", "DROP TABLE; --", "case_number"),
    ],
)
def test_missing_or_unknown_values_are_refused(purposes, purpose, case, field):
    """Missing purpose or case, unknown purpose, or one without authority: refused, field named."""
    with pytest.raises(InvalidArgument) as info:
        purposes.reason(purpose, case)
    assert info.value.field == field
    assert f"{field}: expected" in info.value.message or "legal authority" in info.value.message


def test_over_long_location_is_refused(purposes):
    """A location longer than 200 characters is an input error."""
    with pytest.raises(InvalidArgument, match="location"):
        purposes.reason("warrant", "C-1234", "x" * 201)


def test_without_a_file_only_training_exists(tmp_path):
    """An unconfigured deployment can only train: live purposes need a configured authority."""
    p = Purposes.load(tmp_path / "absent.json")
    assert p.codes() == [TRAINING]
    assert p.reason(TRAINING, "TR-001").live is False


def test_malformed_purposes_file_is_a_clear_error(tmp_path):
    """A broken purposes file names itself and what was expected."""
    path = tmp_path / "purposes.json"
    path.write_text("{not json")
    with pytest.raises(InvalidArgument, match="purposes file"):
        Purposes.load(path)


def test_training_purpose_cannot_be_made_live(tmp_path: Path) -> None:
    """A purposes file that marks 'training' live is refused on load, naming the file."""
    path = tmp_path / "purposes.json"
    path.write_text('{"purposes": [{"code": "training", "legal_authority": "x", "live": true}]}')
    with pytest.raises(InvalidArgument, match="training-only"):
        Purposes.load(path)
