"""Normalisers shared by import and search, so a stored key and a query key always agree.

Each function takes raw text and returns the canonical form, or raises ``ValueError`` with a
message saying what was expected and what came (the caller adds the row and field).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers

MAX_AGE_YEARS = 130  # an older date of birth is a typing error, not a person
_KEY_CHARS = re.compile(r"[A-Z0-9]+")
_SEPARATORS = re.compile(r"[\s\-./]+")


def parse_date(raw: str) -> date:
    """An ISO calendar date, YYYY-MM-DD."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, got {raw!r}") from None


def check_dob(dob: date, today: date) -> date:
    """A date of birth that a living or recently living person can have."""
    if dob > today:
        raise ValueError(f"expected a date of birth not after {today}, got {dob} (future)")
    oldest = date(today.year - MAX_AGE_YEARS, 1, 1)
    if dob < oldest:
        raise ValueError(f"expected a date of birth from {oldest} on, got {dob}")
    return dob


def phone_e164(raw: str, region: str | None) -> str:
    """A valid phone number in E.164; ``region`` is assumed when the number has no +code."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"expected a phone number (E.164 or {region} format), got {raw!r}"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"expected a valid phone number, got {raw!r} (no such number plan)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / 49 CFR 565 check digit (position 9) of a 17-character VIN."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def vin(raw: str) -> str:
    """A VIN: 17 characters without I, O, Q and with a correct check digit; older
    (pre-1981) identifiers of 5-16 letters and digits are accepted as they are."""
    v = key(raw)
    if len(v) == 17:
        if any(c not in _VIN_VALUES for c in v):
            raise ValueError(f"expected a VIN without the letters I, O, Q, got {raw!r}")
        if v[8] != vin_check_digit(v):
            raise ValueError(
                f"expected a VIN with check digit {vin_check_digit(v)} at position 9, got {raw!r}"
            )
    elif not 5 <= len(v) <= 16:
        raise ValueError(f"expected a VIN of 17 characters (or 5-16 before 1981), got {raw!r}")
    return v


def key(raw: str, *, max_len: int = 32) -> str:
    """An identifier as searched: upper case, spaces, hyphens, dots and slashes removed."""
    k = _SEPARATORS.sub("", raw.upper())
    if not k or not _KEY_CHARS.fullmatch(k):
        raise ValueError(f"expected letters and digits, got {raw!r}")
    if len(k) > max_len:
        raise ValueError(f"expected at most {max_len} letters and digits, got {len(k)}")
    return k


def country(raw: str) -> str:
    c = raw.strip().upper()
    if not re.fullmatch(r"[A-Z]{2,3}", c):
        raise ValueError(f"expected an ISO 3166 country code (2 or 3 letters), got {raw!r}")
    return c


_ADDRESS_WORDS = {
    "STREET": "ST",
    "AVENUE": "AVE",
    "ROAD": "RD",
    "DRIVE": "DR",
    "LANE": "LN",
    "BOULEVARD": "BLVD",
    "COURT": "CT",
    "PLACE": "PL",
    "SQUARE": "SQ",
    "TERRACE": "TER",
    "HIGHWAY": "HWY",
    "PARKWAY": "PKWY",
    "CIRCLE": "CIR",
    "APARTMENT": "APT",
    "SUITE": "STE",
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NUMBER": "NO",
}


def _ascii_upper(raw: str) -> str:
    if raw.isascii():
        return raw.upper()
    folded = unicodedata.normalize("NFKD", raw)
    return "".join(c for c in folded if not unicodedata.combining(c)).upper()


def address(raw: str) -> str:
    """Upper case, accents folded, punctuation dropped, common words abbreviated (USPS)."""
    words = re.sub(r"[^A-Z0-9#]+", " ", _ascii_upper(raw)).split()
    if not words:
        raise ValueError(f"expected an address, got {raw!r}")
    return " ".join(_ADDRESS_WORDS.get(w, w) for w in words)


_NAME_NOISE = {"MR", "MRS", "MS", "MISS", "DR", "PROF", "JR", "SR", "II", "III", "IV", "MD",
               "PHD", "DDS", "DVM"}  # fmt: skip


def name(raw: str) -> str:
    """A name for comparison: "Smith, John" and "john SMITH" both become "JOHN SMITH"."""
    text = _ascii_upper(raw)
    if "," in text:
        last, _, first = text.partition(",")
        text = f"{first} {last}"
    words = [w for w in re.sub(r"[^A-Z' ]+", " ", text).replace("'", "").split()]
    kept = [w for w in words if w not in _NAME_NOISE] or words
    if not kept:
        raise ValueError(f"expected a name with letters, got {raw!r}")
    return " ".join(kept)


_SOUNDEX = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}


def soundex(word: str) -> str:
    """American Soundex of one upper-case ASCII word (R163 for ROBERT and RUPERT)."""
    codes = _SOUNDEX
    out, last = word[0], codes.get(word[0], "")
    for c in word[1:]:
        code = codes.get(c, "")
        if code and code != last:
            out += code
        if c not in "HW":
            last = code
    return (out + "000")[:4]


def name_block(normalised: str) -> str:
    """The blocking key a stored name is filed under: Soundex of the surname (last word) and
    the first letter of the given name. A fuzzy search only scores names in its blocks, which
    keeps it fast at millions of names; the price is that a typo in the surname's first letter
    or in the given name's initial is not found (a documented limit)."""
    words = normalised.split()
    return f"{soundex(words[-1])}:{words[0][0] if len(words) > 1 else ''}"


def query_blocks(normalised: str) -> tuple[str, ...]:
    """Blocks a query name may be filed under: as written and with given name and surname
    swapped. A single word returns its Soundex alone, searched as a prefix."""
    words = normalised.split()
    if len(words) == 1:
        return (soundex(words[0]) + ":",)
    return tuple(dict.fromkeys((name_block(normalised), name_block(f"{words[-1]} {words[0]}"))))
