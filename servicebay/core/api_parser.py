"""The API's request parser: Ninja's JSON parser, refusing text that holds a NUL character.

PostgreSQL cannot store NUL in text and SQLite would store it silently, so the same request must
not mean two things: it is refused up front with a 422 naming the field, on both databases.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError
from ninja.parser import Parser

NUL_MESSAGE = "Text may not contain the NUL character (\\u0000)."


def _nul_locations(value: Any, loc: list) -> list[list]:
    if isinstance(value, str):
        return [loc] if "\x00" in value else []
    if isinstance(value, dict):
        return [found for key, item in value.items()
                for found in _nul_locations(key, loc) + _nul_locations(item, [*loc, key])]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _nul_locations(item, [*loc, index])]
    return []


def refuse_nul(data: Any, where: str) -> None:
    """Raise a 422 ValidationError listing every field of ``data`` that holds a NUL character."""
    locations = _nul_locations(data, [where])
    if locations:
        raise ValidationError([{"loc": loc, "msg": NUL_MESSAGE, "type": "string_nul"} for loc in locations])


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict:
        data = super().parse_body(request)
        refuse_nul(data, "body")
        return data

    def parse_querydict(self, data: MultiValueDict, list_fields: list[str], request: HttpRequest) -> dict:
        result = super().parse_querydict(data, list_fields, request)
        refuse_nul(result, "query")
        return result
