"""Normalisers: the keys stored at import and the keys searched by always agree."""

from __future__ import annotations

from datetime import date

import pytest

from mobileid.records import normalise as norm


def test_vin_check_digit_accepts_a_valid_vin_and_refuses_a_wrong_digit():
    """A 17-character VIN must carry the right check digit (the 49 CFR 565 worked example)."""
    assert norm.vin("1m8gdm9a-xkp042788") == "1M8GDM9AXKP042788"
    with pytest.raises(ValueError, match="check digit X"):
        norm.vin("1M8GDM9A1KP042788")
    with pytest.raises(ValueError, match="without the letters I, O, Q"):
        norm.vin("1M8GDM9AXKP04278O")
    assert norm.vin("AB1234") == "AB1234"  # a pre-1981 identifier is kept as it is
    with pytest.raises(ValueError, match="17 characters"):
        norm.vin("1M8GDM9AXKP0427881")


def test_phone_numbers_become_e164_and_invalid_ones_are_refused():
    """National and international spellings give one E.164 key; impossible numbers fail."""
    assert norm.phone_e164("(212) 555-0123", "US") == "+12125550123"
    assert norm.phone_e164("+44 20 7946 0123", "US") == "+442079460123"
    for bad in ("12345", "+1 000 000 0000", "not a number"):
        with pytest.raises(ValueError, match="phone number"):
            norm.phone_e164(bad, "US")


def test_dates_and_impossible_dates_of_birth():
    """Only ISO dates parse; a DOB in the future or over 130 years ago is refused."""
    today = date(2026, 1, 1)
    assert norm.check_dob(norm.parse_date("1980-02-29"), today) == date(1980, 2, 29)
    for bad in ("1981-02-29", "31/12/1980", "1980-13-01", "yesterday", "1980-1-1"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            norm.parse_date(bad)
    with pytest.raises(ValueError, match="future"):
        norm.check_dob(date(2026, 1, 2), today)
    with pytest.raises(ValueError, match="from 1896-01-01"):
        norm.check_dob(date(1850, 1, 1), today)


def test_addresses_names_and_keys_normalise_alike():
    """Spelling variants of one address, name or plate give the same key."""
    assert norm.address("12 North Main Street, Apt. 4") == norm.address("12 n main st apt 4")
    assert norm.name("Smith, John") == norm.name("  john  SMITH Jr.") == "JOHN SMITH"
    assert norm.name("José Ñúñez") == "JOSE NUNEZ"
    assert norm.key("ab-12 c") == "AB12C"
    with pytest.raises(ValueError, match="letters and digits"):
        norm.key("AB'12")


def test_soundex_and_name_blocks():
    """Soundex follows the American rules, and swapped name order finds the same block."""
    assert [norm.soundex(w) for w in ("ROBERT", "RUPERT", "ASHCRAFT", "TYMCZAK", "PFISTER")] == [
        "R163",
        "R163",
        "A261",
        "T522",
        "P236",
    ]
    stored = norm.name_block("JOHN SMITH")
    assert stored in norm.query_blocks("JON SMYTH")
    assert stored in norm.query_blocks("SMITH JOHN")
