"""Validation and normalisation of contact and vehicle identifiers."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError

VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_VIN_TRANSLIT = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def normalize_phone(value: str, region: str = "US") -> str:
    """Return the E.164 form of a phone number or raise ValidationError with a readable message."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a phone number.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{value!r} is not a valid phone number; use +<country><number>.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if value and normalize_phone(value) != value:
        raise ValidationError(f"{value!r} is not in E.164 form (e.g. +15551234567).")


def vin_check_digit(vin: str) -> str:
    total = sum(_VIN_TRANSLIT[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_vin(value: str) -> str:
    return re.sub(r"[\s-]", "", (value or "")).upper()


def validate_vin(value: str) -> None:
    """17 characters without I, O, Q. North American VINs (first character 1-5) carry a check
    digit in position 9, which is verified; other regions do not use it."""
    if not value:
        return
    if not VIN_RE.match(value):
        raise ValidationError(
            f"{value!r} is not a VIN: 17 letters and digits, without I, O or Q."
        )
    if value[0] in "12345" and value[8] != vin_check_digit(value):
        raise ValidationError(f"{value!r} has a wrong check digit (position 9).")
