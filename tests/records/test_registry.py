"""The source registry: entries state their authority, names are checked, opening is lazy."""

from __future__ import annotations

import pytest

from mobileid.errors import InvalidArgument, NotFound
from mobileid.records.errors import UnknownSource
from mobileid.records.registry import SourceRegistry
from mobileid.records.schema import head_revision
from tests.records.conftest import entry


def test_register_get_and_list(tmp_path):
    """A registered entry is stored, read back equal, and its embedded source is migrated."""
    registry = SourceRegistry(tmp_path / "records")
    registry.register(entry("dmv"))
    registry.register(entry("persons"))
    assert [e.name for e in registry.entries()] == ["dmv", "persons"]
    assert registry.get("dmv") == entry("dmv")
    with registry.open("dmv") as source:
        assert source.schema_revision() == head_revision()
    assert (tmp_path / "records" / "dmv.sqlite3").exists()


def test_unknown_source_names_are_not_found_errors(tmp_path):
    """Asking for a source that is not registered names the ones that are."""
    registry = SourceRegistry(tmp_path / "records")
    registry.register(entry("dmv"))
    with pytest.raises(UnknownSource, match=r"registered source \(dmv\), got 'nope'") as caught:
        registry.get("nope")
    assert isinstance(caught.value, NotFound)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "../etc/passwd"}, "name"),
        ({"name": "Has Space"}, "name"),
        ({"legal_authority": " "}, "legal_authority"),
        ({"entitlement": ""}, "entitlement"),
        ({"record_types": ()}, "record_types"),
    ],
)
def test_incomplete_or_unsafe_entries_are_refused(tmp_path, changes, field):
    """Every source must state its authority, entitlement and types; names are file-safe."""
    from dataclasses import replace

    registry = SourceRegistry(tmp_path / "records")
    with pytest.raises(InvalidArgument) as caught:
        registry.register(replace(entry("ok"), **changes))
    assert caught.value.field == field
    assert registry.entries() == []


def test_opening_all_sources_touches_no_database(tmp_path):
    """Source objects are built without connecting, so unentitled sources stay untouched."""
    registry = SourceRegistry(tmp_path / "records")
    registry.register(entry("dmv"), migrate=False)
    sources = registry.open_all()
    assert list(sources) == ["dmv"] and not (tmp_path / "records" / "dmv.sqlite3").exists()


def test_a_damaged_registry_file_is_a_clear_error(tmp_path):
    """A hand-edited registry that no longer parses is reported with its path, not a crash."""
    registry = SourceRegistry(tmp_path / "records")
    registry.register(entry("dmv"))
    registry.path.write_text('{"sources": [{"name": "dmv"}]}')
    with pytest.raises(InvalidArgument, match="expected a source registry written by mobileid"):
        registry.entries()
