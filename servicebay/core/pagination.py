"""Keyset pagination with opaque, signed cursors.

A cursor carries the sort values of the last row returned; the next page is the rows strictly
after it in the (field..., id) order, so inserts and deletes never shift a page the way OFFSET does.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet

from .errors import DomainError

_SIGNER = signing.Signer(salt="servicebay.cursor")


class InvalidCursor(DomainError):
    location = "query"

    def __init__(self) -> None:
        super().__init__("The cursor is not valid for this list.", field="cursor")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.fromisoformat(value["dt"])
        if "d" in value:
            return date.fromisoformat(value["d"])
        if "dec" in value:
            return Decimal(value["dec"])
    return value


def encode_cursor(values: list[Any], scope: str) -> str:
    raw = json.dumps({"s": scope, "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return _SIGNER.sign(token)


def decode_cursor(cursor: str, scope: str) -> list[Any]:
    try:
        token = _SIGNER.unsign(cursor)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("v"), list):
        raise InvalidCursor()
    return [_decode_value(v) for v in data["v"]]


@dataclass
class Page:
    items: list
    next_cursor: str | None


def keyset_page(
    queryset: QuerySet,
    *,
    order: tuple[str, ...],
    cursor: str | None,
    limit: int,
    scope: str,
) -> Page:
    """Return one page of ``queryset`` ordered by ``order`` (which must end in a unique field).

    ``order`` uses Django notation: ``("-created_at", "-id")``. All fields must share a direction
    or not; mixed directions are supported by building the lexicographic OR explicitly.
    """
    fields = [name.lstrip("-") for name in order]
    queryset = queryset.order_by(*order)
    if cursor:
        values = decode_cursor(cursor, scope)
        if len(values) != len(fields):
            raise InvalidCursor()
        condition = Q()
        for i, name in enumerate(order):
            field = fields[i]
            op = "lt" if name.startswith("-") else "gt"
            step = Q(**{f"{field}__{op}": values[i]})
            for j in range(i):
                step &= Q(**{fields[j]: values[j]})
            condition |= step
        queryset = queryset.filter(condition)
    rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([_attr(last, f) for f in fields], scope)
    return Page(items=rows, next_cursor=next_cursor)


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("__"):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj
