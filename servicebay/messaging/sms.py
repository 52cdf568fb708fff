"""How many SMS segments a text costs: GSM-7 when every character fits, UCS-2 otherwise.

GSM 03.38: one segment carries 160 septets (153 when concatenated, the rest is the UDH); the
extension table (``^{}\\[~]|€`` and form feed) costs two septets and an escape pair is never split
across segments. UCS-2: 70 UTF-16 code units (67 concatenated); characters outside the BMP (most
emoji) take two units and are never split either.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int
    remaining: int  # units left in the last segment
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2

    @property
    def summary(self) -> str:
        if not self.characters:
            return "Empty"
        parts = "segment" if self.segments == 1 else "segments"
        return f"{self.characters} characters · {self.segments} {parts} · {self.encoding}"


def _unit_costs(text: str) -> tuple[str, list[int], tuple[str, ...]]:
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))
    if not non_gsm:
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text], ()
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text], non_gsm


def sms_size(text: str) -> SmsSize:
    """Encoding, length and segment count of an SMS body."""
    encoding, costs, non_gsm = _unit_costs(text)
    single, multi = LIMITS[encoding]
    units = sum(costs)
    if units <= single:
        segments, per_segment, used = (1 if units else 0), single, units
    else:
        segments, used, per_segment = 1, 0, multi
        for cost in costs:  # fill greedily: an escape pair or surrogate pair stays whole
            if used + cost > multi:
                segments += 1
                used = 0
            used += cost
    return SmsSize(
        encoding=encoding, characters=len(text), units=units, segments=segments,
        per_segment=per_segment, remaining=per_segment - used if segments else single,
        non_gsm=non_gsm,
    )
