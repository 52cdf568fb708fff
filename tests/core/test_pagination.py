"""Keyset pagination: cursors are opaque, signed and bound to their list."""

import pytest

from servicebay.core.pagination import InvalidCursor, decode_cursor, encode_cursor, keyset_page
from servicebay.shop.models import Customer
from tests import factories


def test_cursor_round_trips_dates_and_decimals():
    from datetime import UTC, date, datetime
    from decimal import Decimal

    values = [datetime(2026, 3, 8, 9, 30, 0, 123456, tzinfo=UTC), date(2026, 3, 8), Decimal("1.10"), "x", 7]
    assert decode_cursor(encode_cursor(values, "s"), "s") == values


@pytest.mark.parametrize("cursor", ["", "abc", "abc:def", "e30:xyz"])
def test_garbage_cursor_is_invalid(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, "s")


def test_tampered_cursor_is_invalid():
    cursor = encode_cursor([5], "s")
    token, signature = cursor.rsplit(":", 1)
    forged = encode_cursor([6], "s").rsplit(":", 1)[0]
    assert forged != token
    with pytest.raises(InvalidCursor):
        decode_cursor(f"{forged}:{signature}", "s")


def test_cursor_of_another_list_is_invalid():
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor([5], "parts"), "customers")


def test_invalid_cursor_points_at_the_query_parameter():
    assert InvalidCursor().as_detail()[0]["loc"] == ["query", "cursor"]


def test_pages_in_descending_order_cover_every_row_once(db):
    ids = {factories.make_customer().pk for _ in range(7)}
    seen, cursor = [], None
    while True:
        page = keyset_page(Customer.objects.all(), order=("-created_at", "-id"), cursor=cursor,
                           limit=2, scope="t")
        seen += [c.pk for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert seen == sorted(seen, reverse=True)
