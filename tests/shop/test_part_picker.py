"""The job line's part picker: the search selector, its endpoint, the choice, and the line form
that takes the chosen part's id (checked on the server, never a 500)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicebay.shop import selectors, services
from servicebay.shop.models import Part
from tests import factories

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def card(vehicle, location):
    return factories.make_job_card(vehicle=vehicle, location=location)


def _catalogue(size: int, *, prefix: str = "ZZ") -> None:
    """Filler parts that no test query matches."""
    Part.objects.bulk_create(
        Part(sku=f"{prefix}-{n:06d}", name=f"Filler item {n}", price=Decimal("1.00")) for n in range(size)
    )


def _search(client, card, query: str):
    return client.get(reverse("shop:job_card_part_search", args=[card.pk]), {"part_q": query}, **HTMX)


def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params, **HTMX).status_code == 200
    return len(queries)


# --- the selector ---------------------------------------------------------------------------------


def test_part_numbers_matching_from_their_start_come_before_name_matches(db):
    by_name = factories.make_part(sku="AA-100", name="Brake pads, rear")
    second = factories.make_part(sku="BR-220", name="Rotor")
    first = factories.make_part(sku="BR-110", name="Caliper")
    factories.make_part(sku="XBR-1", name="Wiper")  # "br" inside a part number is no match

    assert selectors.part_search(query="br") == [first, second, by_name]


def test_part_search_skips_parts_no_longer_sold_and_an_empty_query(db):
    sold = factories.make_part(sku="OF-1", name="Oil filter")
    services.part_update(part=factories.make_part(sku="OF-2", name="Oil filter, old"), is_active=False)

    assert selectors.part_search(query="oil filter") == [sold]
    assert selectors.part_search(query="   ") == []


def test_part_search_returns_at_most_twenty(db):
    _catalogue(30, prefix="BP")

    found = selectors.part_search(query="bp-0")
    assert len(found) == selectors.PART_SEARCH_LIMIT == 20
    assert [p.sku for p in found] == sorted(p.sku for p in found)


# --- the search endpoint --------------------------------------------------------------------------


def test_search_answers_the_matches_with_number_name_and_price_in_the_locations_currency(advisor_client, vehicle):
    card = factories.make_job_card(vehicle=vehicle, location=factories.make_location(currency="EUR"))
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set", price=Decimal("64.00"))

    response = _search(advisor_client, card, "bp-77")

    assert response.status_code == 200
    assert response.templates[0].name == "shop/partials/part_results.html"
    html = response.content.decode()
    assert "BP-778F" in html and "Brake pads, front set" in html and "€64.00" in html
    assert f'name="pick" value="{part.pk}"' in html
    assert "1 matching part;" in html


def test_search_says_when_nothing_matches(advisor_client, card):
    factories.make_part(sku="BP-1", name="Brake pads")
    assert "No active part matches “zzz”" in _search(advisor_client, card, "zzz").content.decode()


def test_search_lists_at_most_twenty_parts(advisor_client, card):
    _catalogue(25, prefix="BP")
    assert _search(advisor_client, card, "BP").content.decode().count('name="pick"') == 20


def test_search_query_count_does_not_grow_with_the_catalogue(advisor_client, card):
    url = reverse("shop:job_card_part_search", args=[card.pk])
    factories.make_part(sku="BP-1", name="Brake pads")
    _queries(advisor_client, url, {"part_q": "brake"})  # warm the session
    # session, user, their role, the card with its location, part numbers, part names
    small = _queries(advisor_client, url, {"part_q": "brake"})
    _catalogue(500, prefix="BK")
    for n in range(30):
        factories.make_part(sku=f"BR-{n:03d}", name="Brake disc")
    assert small == 6
    assert _queries(advisor_client, url, {"part_q": "brake"}) == small
    # A query the part numbers fill needs no name search.
    assert _queries(advisor_client, url, {"part_q": "BR-0"}) == small - 1


@pytest.mark.parametrize("role", [None, "marketing"])
def test_search_is_forbidden_to_roles_that_may_not_add_lines(client, card, role):
    client.force_login(factories.make_user(role))
    assert _search(client, card, "bp").status_code == 403


def test_search_sends_an_anonymous_visitor_to_the_login_page(client, card):
    response = _search(client, card, "bp")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_technician_may_search_as_they_may_add_lines(client, card):
    client.force_login(factories.make_user("technician"))
    assert _search(client, card, "bp").status_code == 200


def test_search_of_an_unknown_job_card_is_404(advisor_client, db):
    assert advisor_client.get(reverse("shop:job_card_part_search", args=[987654]), {"part_q": "x"}).status_code == 404


# --- choosing a part ------------------------------------------------------------------------------


def test_choosing_a_part_fills_the_hidden_id_and_shows_its_defaults(advisor_client, card):
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set", price=Decimal("64.00"))

    response = advisor_client.get(reverse("shop:job_card_part_search", args=[card.pk]),
                                  {"pick": part.pk, "description": "My words", "unit_price": ""}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'type="hidden" name="part" value="{part.pk}" id="id_part"' in html
    assert "Chosen: <span class=\"mono\">BP-778F</span> Brake pads, front set · $64.00" in html
    assert 'id="part-chosen" tabindex="-1" autofocus' in html
    # Out of band: the line becomes a part line; the typed description stays, the part's show as hints.
    assert '<option value="part" selected>' in html
    assert 'value="My words"' in html and 'placeholder="Brake pads, front set"' in html
    assert 'placeholder="64.00"' in html and html.count('hx-swap-oob="true"') == 3


@pytest.mark.parametrize("pick", ["987654", "abc"])
def test_choosing_an_unknown_part_is_an_inline_error(advisor_client, card, pick):
    response = advisor_client.get(reverse("shop:job_card_part_search", args=[card.pk]), {"pick": pick}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "That part is not in the catalogue or is no longer sold." in html
    assert 'aria-invalid="true"' in html and 'hx-swap-oob' not in html


# --- adding the line ------------------------------------------------------------------------------


def _add_part_line(client, card, part_id):
    return client.post(reverse("shop:job_line_add", args=[card.pk]),
                       {"kind": "part", "part": part_id, "quantity": "1", "unit_price": "",
                        "tax_percent": "0", "payer": "customer"}, **HTMX)


def test_a_chosen_part_becomes_a_line_at_its_name_and_price(advisor_client, card):
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set", price=Decimal("64.00"))
    response = _add_part_line(advisor_client, card, part.pk)
    assert response.status_code == 200
    line = card.lines.get()
    assert (line.part, line.description, line.unit_price) == (part, "Brake pads, front set", Decimal("64.00"))
    assert 'id="job-card-total">$64.00<' in response.content.decode()


@pytest.mark.parametrize("part_id", ["987654", "abc", "inactive"])
def test_an_unknown_or_unsold_part_id_is_an_inline_error_not_a_500(advisor_client, card, part_id):
    if part_id == "inactive":
        part_id = services.part_update(part=factories.make_part(), is_active=False).pk

    response = _add_part_line(advisor_client, card, part_id)

    assert response.status_code == 422
    assert response.context["line_form"].errors["part"] == [
        "That part is not in the catalogue or is no longer sold. Search for it again."]
    html = response.content.decode()
    assert 'id="part-error"' in html and 'aria-describedby="part-chosen part-error"' in html
    assert not card.lines.exists()


def test_a_refused_line_keeps_the_chosen_part_on_the_form(advisor_client, card):
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set")
    response = advisor_client.post(reverse("shop:job_line_add", args=[card.pk]),
                                   {"kind": "part", "part": part.pk, "quantity": "0",
                                    "tax_percent": "0", "payer": "customer"}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'name="part" value="{part.pk}"' in html and "Chosen: <span class=\"mono\">BP-778F</span>" in html


# --- the job card page ----------------------------------------------------------------------------


def test_job_card_page_does_not_render_the_catalogue(advisor_client, card):
    url = reverse("shop:job_card_detail", args=[card.pk])
    factories.make_part(sku="AA-1")
    advisor_client.get(url)
    with CaptureQueriesContext(connection) as small:
        before = advisor_client.get(url).content
    _catalogue(500)
    with CaptureQueriesContext(connection) as large:
        after = advisor_client.get(url).content
    assert len(large) == len(small)
    assert b"ZZ-000001" not in after and b"AA-1" not in after
    assert abs(len(after) - len(before)) < 100  # only the CSRF token and the like differ


def test_without_javascript_the_page_searches_and_takes_the_choice(advisor_client, card):
    part = factories.make_part(sku="BP-778F", name="Brake pads, front set")
    url = reverse("shop:job_card_detail", args=[card.pk])

    found = advisor_client.get(url, {"part_q": "bp-7"}).content.decode()
    assert f'name="pick" value="{part.pk}"' in found and 'form="part-search-form"' in found

    chosen = advisor_client.get(url, {"pick": part.pk}).content.decode()
    assert f'name="part" value="{part.pk}"' in chosen and '<option value="part" selected>' in chosen

    stale = advisor_client.get(url, {"pick": "987654"})
    assert stale.status_code == 200 and "That part is not in the catalogue" in stale.content.decode()
