"""The shop screens: who may open them, what they write through the services, how they fail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from servicebay.core.context_processors import NAV, NAV_PRIMARY
from servicebay.core.roles import PERMISSIONS, user_can
from servicebay.shop import services
from servicebay.shop.models import Appointment, Customer, JobCard, Note, Vehicle
from servicebay.visits import services as visit_services
from servicebay.visits.models import CustomerVisit
from tests import factories
from tests.factories import SYSTEM
from tests.visits.factories import check_in, complete, finished_visit

HTMX = {"HTTP_HX_REQUEST": "true"}


def _login(client, role: str | None):
    user = factories.make_user(role)
    client.force_login(user)
    return user


@pytest.fixture
def card(vehicle, location):
    return factories.make_job_card(vehicle=vehicle, location=location)


@pytest.fixture
def appointment(vehicle, location):
    return factories.make_appointment(vehicle=vehicle, location=location)


def _pages(customer, card, appointment) -> list[str]:
    return [
        reverse("shop:home"),
        reverse("shop:customer_list") + "?q=" + customer.last_name,
        reverse("shop:customer_detail", args=[customer.pk]),
        reverse("shop:appointment_list"),
        reverse("shop:job_card_list"),
        reverse("shop:job_card_detail", args=[card.pk]),
    ]


# --- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["advisor", "technician", "manager", "marketing", "admin"])
def test_every_reading_page_renders_for_each_staff_role(client, role, customer, card, appointment):
    _login(client, role)
    for url in _pages(customer, card, appointment):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'id="main"' in response.content


def test_reading_pages_are_forbidden_to_a_user_without_a_role(client, customer, card, appointment):
    _login(client, None)
    for url in _pages(customer, card, appointment):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"You do not have access" in response.content


def test_pages_send_an_anonymous_visitor_to_the_login_page(client, customer):
    response = client.get(reverse("shop:customer_detail", args=[customer.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_signs_in_and_lands_on_today(client, db):
    factories.make_user("advisor", username="avery")
    response = client.post(reverse("login"), {"username": "avery", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:home")


def test_login_page_shows_a_wrong_password_inline(client, db):
    factories.make_user("advisor", username="avery")
    response = client.post(reverse("login"), {"username": "avery", "password": "nope"})
    assert response.status_code == 200
    assert b"form-errors" in response.content


@pytest.mark.parametrize(
    ("role", "url_name", "needs_customer"),
    [
        ("marketing", "shop:customer_create", False),
        ("technician", "shop:customer_create", False),
        ("marketing", "shop:customer_edit", True),
        ("technician", "shop:appointment_book", True),
        ("marketing", "shop:job_card_walk_in", True),
        ("technician", "shop:job_card_walk_in", True),  # checking a car in is the front desk's
    ],
)
def test_write_forms_are_forbidden_to_roles_without_the_permission(client, role, url_name, needs_customer, customer):
    _login(client, role)
    url = reverse(url_name, args=[customer.pk] if needs_customer else [])
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


def test_marketing_cannot_add_a_note_or_a_vehicle(client, customer):
    _login(client, "marketing")
    assert client.post(reverse("shop:note_add", args=[customer.pk]), {"body": "x"}).status_code == 403
    assert client.post(reverse("shop:vehicle_add", args=[customer.pk]), {"make": "x"}).status_code == 403
    assert not Note.objects.exists()


def test_unknown_ids_are_404_with_the_shops_own_page(advisor_client, db):
    response = advisor_client.get(reverse("shop:customer_detail", args=[999999]))
    assert response.status_code == 404
    assert b"We could not find that page" in response.content
    assert advisor_client.get(reverse("shop:job_card_detail", args=[999999])).status_code == 404


# --- navigation and layout ---------------------------------------------------------------------


def test_base_layout_has_nav_user_logout_and_htmx_csrf_header(advisor_client, advisor, db):
    html = advisor_client.get(reverse("shop:home")).content.decode()
    for label in ("Customers", "Appointments", "Job cards"):
        assert f">{label}</a>" in html
    assert advisor.get_full_name() in html
    assert "Service advisor" in html
    assert f'action="{reverse("logout")}"' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "<script>" not in html  # strict CSP: script-src 'self', no inline script


def test_nav_shows_a_feature_only_once_its_page_exists_and_the_role_may_open_it(client, db):
    for role in ("advisor", "marketing"):
        user = _login(client, role)
        html = client.get(reverse("shop:home")).content.decode()
        for label, names, permission in NAV:
            exists = False
            for name in names:
                try:
                    reverse(name)
                    exists = True
                except NoReverseMatch:
                    continue
            allowed = permission not in PERMISSIONS or user_can(user, permission)
            assert (f">{label}</a>" in html) == (exists and allowed), (role, label)


def test_nav_keeps_the_front_desk_pages_in_the_bar_and_the_rest_under_more(client, db):
    _login(client, "admin")
    html = client.get(reverse("shop:home")).content.decode()
    bar, more = html.split('<details class="nav-more">')
    more = more.split("</details>")[0]
    for label in NAV_PRIMARY:
        assert f">{label}</a>" in bar
    for label, _names, _permission in NAV:
        if label not in NAV_PRIMARY and f">{label}</a>" in html:
            assert f">{label}</a>" in more, label
    assert ">More</summary>" in more


def test_the_more_menu_names_the_page_it_holds_while_that_page_is_open(client, db):
    _login(client, "admin")
    html = client.get(reverse("warehouse:status")).content.decode()
    assert "nav-more__toggle is-active\">Warehouse</summary>" in html
    assert 'class="nav-more__link is-active" href="/warehouse/" aria-current="page"' in html


# --- customers ---------------------------------------------------------------------------------


def test_customer_search_finds_by_plate_and_pages_with_load_more(advisor_client, location):
    for n in range(30):
        factories.make_customer(first_name="Ana", last_name=f"Search{n:02d}", home_location=location)
    target = factories.make_customer(first_name="Plate", last_name="Owner")
    factories.make_vehicle(target, plate="ZX9KQ1")

    response = advisor_client.get(reverse("shop:customer_list"), {"q": "zx9kq1"})
    assert b"Owner, Plate" in response.content

    first = advisor_client.get(reverse("shop:customer_list"), {"q": "search"})
    assert first.content.count(b"Search") >= 25
    cursor = first.context["page"].next_cursor
    assert cursor
    more = advisor_client.get(reverse("shop:customer_list"), {"q": "search", "cursor": cursor}, **HTMX)
    assert more.templates[0].name == "shop/partials/customer_rows.html"
    assert b"Search29" in more.content
    assert b"Search00" not in more.content


def test_customer_live_search_returns_only_the_results_partial(advisor_client, customer):
    response = advisor_client.get(reverse("shop:customer_list"), {"q": customer.email},
                                  HTTP_HX_TARGET="customer-results", **HTMX)
    assert response.templates[0].name == "shop/partials/customer_results.html"
    assert customer.last_name.encode() in response.content
    assert b"<html" not in response.content


def test_customer_create_normalises_the_phone_and_opens_the_customer(advisor_client, location):
    response = advisor_client.post(reverse("shop:customer_create"), {
        "first_name": " Rosa ", "last_name": "Alvarez", "phone": "(312) 555-0199",
        "email": "Rosa@Example.com", "preferred_channel": "sms", "language": "en",
        "home_location": location.pk, "time_zone": "",
    })
    customer = Customer.objects.get(last_name="Alvarez")
    assert response.status_code == 302
    assert response["Location"] == reverse("shop:customer_detail", args=[customer.pk])
    assert customer.phone == "+13125550199"
    assert customer.email == "rosa@example.com"
    assert customer.first_name == "Rosa"


def test_customer_create_shows_errors_inline_on_the_fields(advisor_client, db):
    response = advisor_client.post(reverse("shop:customer_create"), {
        "first_name": "", "last_name": "Alvarez", "phone": "12", "email": "not-an-email",
        "preferred_channel": "email", "language": "en",
    })
    assert response.status_code == 422
    form = response.context["form"]
    assert set(form.errors) >= {"first_name", "phone", "email"}
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "is not a valid phone number" in html or "is not a phone number" in html
    assert not Customer.objects.exists()


def test_customer_edit_saves_through_the_service(advisor_client, customer):
    data = {"first_name": customer.first_name, "last_name": "Renamed", "phone": customer.phone,
            "email": customer.email, "preferred_channel": "whatsapp", "language": "en",
            "home_location": customer.home_location_id or "", "time_zone": ""}
    response = advisor_client.post(reverse("shop:customer_edit", args=[customer.pk]), data)
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.last_name, customer.preferred_channel) == ("Renamed", "whatsapp")


def test_customer_edit_form_is_prefilled(advisor_client, customer):
    response = advisor_client.get(reverse("shop:customer_edit", args=[customer.pk]))
    assert response.context["form"].initial["email"] == customer.email


def test_customer_page_shows_vehicles_notes_appointments_and_job_cards(advisor_client, customer, vehicle, card, appointment):
    services.note_add(customer=customer, actor=SYSTEM, body="Prefers calls after 5pm", pinned=True)
    html = advisor_client.get(reverse("shop:customer_detail", args=[customer.pk])).content.decode()
    assert vehicle.plate in html
    assert "Prefers calls after 5pm" in html
    assert card.display_number in html
    assert 'id="upcoming-title"' in html
    assert "Booked" in html


def test_customer_page_links_to_the_service_timeline(advisor_client, customer):
    html = advisor_client.get(reverse("shop:customer_detail", args=[customer.pk])).content.decode()
    assert f'href="{reverse("visits:timeline", args=[customer.pk])}">Service timeline</a>' in html


def test_customer_page_header_links_to_customer_360(advisor_client, customer):
    c360 = reverse("customer360:detail", args=[customer.pk])
    html = advisor_client.get(reverse("shop:customer_detail", args=[customer.pk])).content.decode()
    actions = html.split('class="page-header__actions"')[1].split("</div>")[0]
    assert f'href="{c360}">Customer 360</a>' in actions


def test_vehicle_add_over_htmx_returns_the_vehicles_card(advisor_client, customer):
    response = advisor_client.post(reverse("shop:vehicle_add", args=[customer.pk]), {
        "make": "Honda", "model": "Civic", "year": "2018", "plate": "abc 123", "vin": "",
        "odometer": "1000", "odometer_unit": "mi",
    }, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "shop/partials/vehicles_card.html"
    vehicle = Vehicle.objects.get(customer=customer, make="Honda")
    assert vehicle.plate in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()  # the toast rides along


def test_vehicle_add_with_a_bad_vin_shows_the_error_on_the_vin_field(advisor_client, customer):
    response = advisor_client.post(reverse("shop:vehicle_add", args=[customer.pk]), {
        "make": "Honda", "model": "Civic", "year": "2018", "vin": "1HGCM82633A00435X",
        "odometer": "0", "odometer_unit": "mi",
    }, **HTMX)
    assert response.status_code == 422
    assert "vin" in response.context["vehicle_form"].errors
    assert not Vehicle.objects.filter(make="Honda").exists()


def test_vehicle_add_with_a_vin_already_taken_is_an_inline_error_not_a_500(advisor_client, customer):
    vin = factories.north_american_vin()
    factories.make_vehicle(vin=vin)
    response = advisor_client.post(reverse("shop:vehicle_add", args=[customer.pk]), {
        "make": "Honda", "model": "Civic", "year": "2018", "vin": vin, "odometer": "0",
        "odometer_unit": "mi",
    }, **HTMX)
    assert response.status_code == 422
    assert "Another vehicle already has this VIN." in response.content.decode()


def test_note_add_over_htmx_pins_and_lists_the_note(advisor_client, customer):
    response = advisor_client.post(reverse("shop:note_add", args=[customer.pk]),
                                   {"body": "Call before starting work", "pinned": "on"}, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "shop/partials/notes_card.html"
    note = Note.objects.get(customer=customer)
    assert note.pinned
    assert "Call before starting work" in response.content.decode()


def test_an_empty_note_is_an_inline_error(advisor_client, customer):
    response = advisor_client.post(reverse("shop:note_add", args=[customer.pk]), {"body": "   "}, **HTMX)
    assert response.status_code == 422
    assert "body" in response.context["note_form"].errors


def test_note_pin_toggles(advisor_client, customer):
    note = services.note_add(customer=customer, actor=SYSTEM, body="x")
    advisor_client.post(reverse("shop:note_pin", args=[note.pk]), {"pinned": "1"}, **HTMX)
    note.refresh_from_db()
    assert note.pinned


# --- appointments ------------------------------------------------------------------------------


def _booking(location, vehicle, day: date, at: str, **extra) -> dict:
    return {"location": location.pk, "vehicle": vehicle.pk, "date": day.isoformat(), "time": at,
            "duration_minutes": "60", "notes": "", **extra}


def test_booking_converts_the_locations_wall_clock_time_to_utc(advisor_client, customer, vehicle, location):
    winter_day = date(timezone.now().year + 1, 1, 15)  # Chicago is UTC-6 in January
    template = factories.make_template()
    response = advisor_client.post(reverse("shop:appointment_book", args=[customer.pk]),
                                   _booking(location, vehicle, winter_day, "09:30", services=[template.pk]))
    assert response.status_code == 302
    appointment = Appointment.objects.get(customer=customer)
    assert appointment.start_at == datetime(winter_day.year, 1, 15, 15, 30, tzinfo=UTC)
    assert list(appointment.services.all()) == [template]


def test_booking_a_time_skipped_by_the_dst_change_is_an_inline_error(advisor_client, customer, vehicle, location):
    year = timezone.now().year + 1
    march = [date(year, 3, d) for d in range(1, 15) if date(year, 3, d).weekday() == 6]
    spring_forward = march[1]  # second Sunday of March: 02:00-03:00 does not exist in Chicago
    response = advisor_client.post(reverse("shop:appointment_book", args=[customer.pk]),
                                   _booking(location, vehicle, spring_forward, "02:30"))
    assert response.status_code == 422
    assert "does not exist" in response.content.decode()
    assert not Appointment.objects.exists()


def test_booking_in_the_past_shows_the_service_error_on_the_date(advisor_client, customer, vehicle, location):
    response = advisor_client.post(reverse("shop:appointment_book", args=[customer.pk]),
                                   _booking(location, vehicle, date(2020, 1, 1), "09:00"))
    assert response.status_code == 422
    assert response.context["form"].errors["date"] == ["An appointment cannot start in the past."]


def test_booking_someone_elses_vehicle_is_refused_inline(advisor_client, customer, location):
    other = factories.make_vehicle()
    response = advisor_client.post(reverse("shop:appointment_book", args=[customer.pk]),
                                   _booking(location, other, date.today() + timedelta(days=3), "09:00"))
    assert response.status_code == 422
    assert "vehicle" in response.context["form"].errors


def test_an_overlapping_booking_warns_but_is_booked(advisor_client, customer, vehicle, location):
    day = date(timezone.now().year + 1, 1, 15)
    advisor_client.post(reverse("shop:appointment_book", args=[customer.pk]), _booking(location, vehicle, day, "09:00"))
    check = advisor_client.get(reverse("shop:appointment_conflict_check", args=[customer.pk]),
                               _booking(location, vehicle, day, "09:30"), **HTMX)
    assert "overlaps 1 other booking" in check.content.decode()
    response = advisor_client.post(reverse("shop:appointment_book", args=[customer.pk]),
                                   _booking(location, vehicle, day, "09:30"), follow=True)
    assert Appointment.objects.filter(customer=customer).count() == 2
    assert "overlaps 1 other booking" in response.content.decode()


def test_conflict_check_is_silent_without_overlap(advisor_client, customer, vehicle, location):
    check = advisor_client.get(reverse("shop:appointment_conflict_check", args=[customer.pk]),
                               _booking(location, vehicle, date(timezone.now().year + 1, 1, 15), "09:30"), **HTMX)
    assert check.status_code == 200
    assert "overlaps" not in check.content.decode()


def test_appointment_list_shows_the_day_in_the_locations_time_zone(advisor_client, vehicle, location):
    day = date(timezone.now().year + 1, 7, 1)  # Chicago is UTC-5 in July
    factories.make_appointment(vehicle=vehicle, location=location,
                               start_at=datetime(day.year, 7, 1, 4, 30, tzinfo=UTC))  # 23:30 on June 30
    factories.make_appointment(vehicle=vehicle, location=location,
                               start_at=datetime(day.year, 7, 1, 13, 0, tzinfo=UTC))  # 08:00 on July 1
    response = advisor_client.get(reverse("shop:appointment_list"), {"location": location.pk, "date": day.isoformat()})
    html = response.content.decode()
    assert len(response.context["appointments"]) == 1
    assert ">08:00<" in html


def test_confirming_an_appointment_over_htmx_swaps_its_row(advisor_client, appointment):
    response = advisor_client.post(reverse("shop:appointment_status", args=[appointment.pk]),
                                   {"status": "confirmed"}, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "shop/partials/appointment_row.html"
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"
    assert "badge--confirmed" in response.content.decode()


def test_an_impossible_appointment_move_is_a_message_not_a_500(advisor_client, appointment):
    services.appointment_set_status(appointment=appointment, status="cancelled", actor=SYSTEM)
    response = advisor_client.post(reverse("shop:appointment_status", args=[appointment.pk]),
                                   {"status": "confirmed"}, **HTMX)
    assert response.status_code == 200
    assert "cannot become confirmed" in response.content.decode()


def test_technician_cannot_cancel_an_appointment(client, appointment):
    _login(client, "technician")
    response = client.post(reverse("shop:appointment_status", args=[appointment.pk]), {"status": "cancelled"})
    assert response.status_code == 403


def test_check_in_opens_the_job_card_from_the_appointment(advisor_client, appointment):
    template = factories.make_template(price=Decimal("49.95"))
    appointment.services.set([template])
    response = advisor_client.post(reverse("shop:appointment_check_in", args=[appointment.pk]), {"odometer_in": "50100"})
    card = JobCard.objects.get(appointment=appointment)
    assert response["Location"] == reverse("shop:job_card_detail", args=[card.pk])
    appointment.refresh_from_db()
    assert appointment.status == "checked_in"
    assert card.total == Decimal("49.95")
    assert card.odometer_in == 50100


def test_check_in_from_an_appointment_starts_a_scheduled_visit_with_its_job_card(advisor_client, advisor, appointment):
    advisor_client.post(reverse("shop:appointment_check_in", args=[appointment.pk]), {"odometer_in": "50100"})
    visit = CustomerVisit.objects.get()
    assert (visit.visit_type, visit.appointment_id) == ("scheduled", appointment.pk)
    assert visit.job_card == JobCard.objects.get(appointment=appointment)
    assert (visit.odometer_in, visit.advisor, visit.check_out_at) == (50100, advisor, None)


def test_check_in_over_htmx_from_the_day_view_lands_on_the_job_card(advisor_client, appointment):
    response = advisor_client.post(reverse("shop:appointment_check_in", args=[appointment.pk]), **HTMX)
    card = JobCard.objects.get(appointment=appointment)
    assert response["HX-Redirect"] == reverse("shop:job_card_detail", args=[card.pk])


def test_checking_in_twice_is_a_message_not_a_500(advisor_client, appointment):
    advisor_client.post(reverse("shop:appointment_check_in", args=[appointment.pk]))
    response = advisor_client.post(reverse("shop:appointment_check_in", args=[appointment.pk]), follow=True)
    assert response.status_code == 200
    assert "already been checked in" in response.content.decode()
    assert JobCard.objects.filter(appointment=appointment).count() == 1
    assert CustomerVisit.objects.count() == 1


def test_check_in_is_forbidden_to_a_technician_and_offered_only_to_roles_that_may(client, vehicle, location):
    appointment = factories.make_appointment(vehicle=vehicle, location=location, start_at=timezone.now())
    _login(client, "technician")
    assert client.post(reverse("shop:appointment_check_in", args=[appointment.pk])).status_code == 403
    assert not CustomerVisit.objects.exists()
    day = client.get(reverse("shop:appointment_list"), {"location": location.pk}).content.decode()
    assert reverse("shop:appointment_check_in", args=[appointment.pk]) not in day
    _login(client, "advisor")
    day = client.get(reverse("shop:appointment_list"), {"location": location.pk}).content.decode()
    assert reverse("shop:appointment_check_in", args=[appointment.pk]) in day


# --- job cards ---------------------------------------------------------------------------------


def test_walk_in_opens_a_job_card_for_the_chosen_vehicle(advisor_client, customer, vehicle, location):
    response = advisor_client.post(reverse("shop:job_card_walk_in", args=[customer.pk]),
                                   {"location": location.pk, "vehicle": vehicle.pk, "odometer_in": "43000"})
    card = JobCard.objects.get(customer=customer)
    assert response["Location"] == reverse("shop:job_card_detail", args=[card.pk])
    assert card.appointment is None
    assert card.odometer_in == 43000


def test_walk_in_starts_a_walk_in_visit_with_the_new_job_card(advisor_client, customer, vehicle, location):
    advisor_client.post(reverse("shop:job_card_walk_in", args=[customer.pk]),
                        {"location": location.pk, "vehicle": vehicle.pk, "odometer_in": "43000"})
    visit = CustomerVisit.objects.get()
    assert (visit.visit_type, visit.appointment_id, visit.odometer_in) == ("walk_in", None, 43000)
    assert visit.job_card == JobCard.objects.get(customer=customer)
    assert visit.location == location


def test_walk_in_of_a_vehicle_still_checked_in_is_refused_inline(advisor_client, customer, vehicle, location):
    check_in(vehicle, location=location)
    response = advisor_client.post(reverse("shop:job_card_walk_in", args=[customer.pk]),
                                   {"location": location.pk, "vehicle": vehicle.pk})
    assert response.status_code == 422
    assert "still checked in" in response.context["form"].errors["vehicle"][0]
    assert JobCard.objects.count() == CustomerVisit.objects.count() == 1


def test_walk_in_with_an_odometer_below_the_last_reading_is_refused_on_that_field(advisor_client, customer, vehicle, location):
    response = advisor_client.post(reverse("shop:job_card_walk_in", args=[customer.pk]),
                                   {"location": location.pk, "vehicle": vehicle.pk, "odometer_in": "100"})
    assert response.status_code == 422
    assert "less than the last known reading" in response.context["form"].errors["odometer_in"][0]
    assert not JobCard.objects.exists()


def test_walk_in_for_a_vehicle_of_another_customer_is_refused_inline(advisor_client, customer, location):
    other = factories.make_vehicle()
    response = advisor_client.post(reverse("shop:job_card_walk_in", args=[customer.pk]),
                                   {"location": location.pk, "vehicle": other.pk})
    assert response.status_code == 422
    assert "vehicle" in response.context["form"].errors


def test_adding_lines_over_htmx_updates_the_totals(advisor_client, card):
    part = factories.make_part(price=Decimal("64.00"))
    url = reverse("shop:job_line_add", args=[card.pk])
    advisor_client.post(url, {"kind": "labor", "description": "Pads", "quantity": "1.5",
                              "unit_price": "120", "tax_percent": "0", "payer": "customer"}, **HTMX)
    response = advisor_client.post(url, {"kind": "part", "part": part.pk, "quantity": "2",
                                         "unit_price": "", "tax_percent": "8.25", "payer": "customer"}, **HTMX)
    assert response.status_code == 200
    assert response.templates[0].name == "shop/partials/job_lines.html"
    card.refresh_from_db()
    # 180.00 + 128.00, tax 8.25 % of 128.00 = 10.56
    assert (card.subtotal, card.tax_total, card.total) == (Decimal("308.00"), Decimal("10.56"), Decimal("318.56"))
    assert 'id="job-card-total">$318.56<' in response.content.decode()


def test_a_part_line_without_a_part_is_an_inline_error(advisor_client, card):
    response = advisor_client.post(reverse("shop:job_line_add", args=[card.pk]),
                                   {"kind": "part", "quantity": "1", "tax_percent": "0", "payer": "customer"}, **HTMX)
    assert response.status_code == 422
    assert response.context["line_form"].errors["part"] == ["Choose the part for a part line."]
    assert not card.lines.exists()


def test_a_discount_larger_than_the_card_is_the_services_error_inline(advisor_client, card):
    factories.add_line(card, unit_price=Decimal("10"))
    response = advisor_client.post(reverse("shop:job_line_add", args=[card.pk]),
                                   {"kind": "discount", "quantity": "1", "unit_price": "50",
                                    "tax_percent": "0", "payer": "customer"}, **HTMX)
    assert response.status_code == 422
    assert "Discounts cannot exceed" in response.content.decode()
    assert card.lines.count() == 1


def test_removing_a_line_recalculates(advisor_client, card):
    line = factories.add_line(card, unit_price=Decimal("40"))
    factories.add_line(card, unit_price=Decimal("60"))
    response = advisor_client.post(reverse("shop:job_line_remove", args=[card.pk, line.pk]), **HTMX)
    assert response.status_code == 200
    card.refresh_from_db()
    assert card.total == Decimal("60.00")


def test_lines_of_a_completed_card_cannot_change_and_say_so(advisor_client, db):
    card = factories.make_job_card_in("completed")
    response = advisor_client.post(reverse("shop:job_line_add", args=[card.pk]),
                                   {"kind": "fee", "quantity": "1", "unit_price": "5", "tax_percent": "0",
                                    "payer": "customer"}, **HTMX)
    assert response.status_code == 422
    assert card.lines.count() == 1
    html = response.content.decode()
    assert "line-form" not in html  # frozen: no form, so the service's reason comes as a toast
    assert "cannot be changed; reopen it first" in html


def test_advisor_starts_and_completes_a_job_card(advisor_client, card):
    factories.add_line(card)
    url = reverse("shop:job_card_transition", args=[card.pk])
    assert advisor_client.post(url, {"status": "in_progress"}).status_code == 302
    response = advisor_client.post(url, {"status": "completed"}, follow=True)
    card.refresh_from_db()
    assert card.status == "completed"
    assert "is now completed" in response.content.decode()


def test_completing_without_lines_is_a_message_not_a_500(advisor_client, card):
    url = reverse("shop:job_card_transition", args=[card.pk])
    advisor_client.post(url, {"status": "in_progress"})
    response = advisor_client.post(url, {"status": "completed"}, follow=True)
    card.refresh_from_db()
    assert card.status == "in_progress"
    assert "Add at least one line" in response.content.decode()


def test_technician_may_start_but_not_complete_and_sees_only_allowed_buttons(client, card):
    _login(client, "technician")
    factories.add_line(card)
    url = reverse("shop:job_card_transition", args=[card.pk])
    page = client.get(reverse("shop:job_card_detail", args=[card.pk])).content.decode()
    assert "Start work" in page
    assert "Cancel job card" not in page
    assert client.post(url, {"status": "in_progress"}).status_code == 302
    page = client.get(reverse("shop:job_card_detail", args=[card.pk])).content.decode()
    assert "Mark complete" not in page
    assert client.post(url, {"status": "completed"}).status_code == 403
    card.refresh_from_db()
    assert card.status == "in_progress"


def test_marketing_sees_a_job_card_without_any_controls(client, card):
    _login(client, "marketing")
    page = client.get(reverse("shop:job_card_detail", args=[card.pk])).content.decode()
    assert "line-form" not in page
    assert "Start work" not in page
    assert client.post(reverse("shop:job_line_add", args=[card.pk]), {}).status_code == 403


def test_reopen_is_offered_on_a_completed_card_to_the_advisor(advisor_client, db):
    card = factories.make_job_card_in("completed")
    page = advisor_client.get(reverse("shop:job_card_detail", args=[card.pk])).content.decode()
    assert "Reopen" in page and "Close job card" in page


# --- the visit on the job card -----------------------------------------------------------------


def _card_page(client, card) -> str:
    return client.get(reverse("shop:job_card_detail", args=[card.pk])).content.decode()


def test_job_card_page_links_to_its_visit_and_its_timeline_entry(advisor_client, vehicle, location):
    visit = check_in(vehicle, location=location)
    html = _card_page(advisor_client, visit.job_card)
    assert f'{reverse("visits:timeline", args=[vehicle.customer_id])}#visit-{visit.pk}' in html
    assert reverse("visits:visit_detail", args=[visit.pk]) in html
    assert "Walk-in" in html and "Still in the shop" in html
    assert "Check-out opens once the job card is completed." in html
    assert reverse("shop:job_card_check_out", args=[visit.job_card_id]) not in html


def test_a_completed_card_offers_check_out_which_ends_the_visit_with_the_cards_total(advisor_client, vehicle, location):
    visit = check_in(vehicle, location=location)
    complete(visit.job_card)
    url = reverse("shop:job_card_check_out", args=[visit.job_card_id])
    assert url in _card_page(advisor_client, visit.job_card)
    response = advisor_client.post(url, follow=True)
    visit.refresh_from_db()
    assert visit.check_out_at is not None
    assert visit.total_spend == Decimal("100.00")
    html = response.content.decode()
    assert "Checked out." in html
    assert url not in html  # once only
    assert 'id="visit-check-out">Still in the shop' not in html
    assert "Save rating" in html


def test_check_out_of_unfinished_work_is_a_message_not_a_500(advisor_client, vehicle, location):
    visit = check_in(vehicle, location=location)
    response = advisor_client.post(reverse("shop:job_card_check_out", args=[visit.job_card_id]), follow=True)
    assert response.status_code == 200
    assert "complete it before checking out" in response.content.decode()
    visit.refresh_from_db()
    assert visit.check_out_at is None


def test_check_out_of_a_card_without_a_visit_is_404(advisor_client, card):
    assert advisor_client.post(reverse("shop:job_card_check_out", args=[card.pk])).status_code == 404


def test_after_check_out_the_page_shows_a_working_survey_link_for_the_customer(advisor_client, client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    response = advisor_client.get(reverse("shop:job_card_detail", args=[visit.job_card_id]))
    survey_url = response.context["survey_url"]
    assert survey_url.startswith("http://testserver/visits/rate/")
    assert survey_url in response.content.decode()
    client.logout()
    assert client.get(survey_url).status_code == 200  # the customer needs no login


def test_the_advisor_records_the_customers_rating_on_the_job_card(advisor_client, advisor, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    response = advisor_client.post(reverse("shop:job_card_rate", args=[visit.job_card_id]),
                                   {"rating-score": "4", "rating-comment": "Quick and friendly"}, follow=True)
    visit.refresh_from_db()
    assert (visit.satisfaction_score, visit.satisfaction_source) == (4, "advisor")
    assert visit.satisfaction_recorded_by == advisor
    html = response.content.decode()
    assert "4/5" in html and "Quick and friendly" in html
    assert "Save rating" not in html and "/visits/rate/" not in html


def test_a_rating_without_a_score_is_an_inline_error(advisor_client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    response = advisor_client.post(reverse("shop:job_card_rate", args=[visit.job_card_id]), {"rating-score": ""})
    assert response.status_code == 422
    assert "score" in response.context["rating_form"].errors
    assert 'aria-invalid="true"' in response.content.decode()
    visit.refresh_from_db()
    assert visit.satisfaction_score is None


def test_rating_twice_is_a_message_not_a_500(advisor_client, vehicle, location):
    visit = finished_visit(vehicle, location=location)
    visit_services.visit_rate(visit=visit, score=5, actor=SYSTEM)
    response = advisor_client.post(reverse("shop:job_card_rate", args=[visit.job_card_id]),
                                   {"rating-score": "1"}, follow=True)
    assert response.status_code == 200
    assert "already been rated" in response.content.decode()
    visit.refresh_from_db()
    assert visit.satisfaction_score == 5


def test_rating_before_check_out_is_refused(advisor_client, vehicle, location):
    visit = check_in(vehicle, location=location)
    response = advisor_client.post(reverse("shop:job_card_rate", args=[visit.job_card_id]),
                                   {"rating-score": "5"}, follow=True)
    assert "after check-out" in response.content.decode()
    visit.refresh_from_db()
    assert visit.satisfaction_score is None


def test_a_card_opened_without_a_visit_can_be_checked_in_from_its_page(advisor_client, card):
    url = reverse("shop:job_card_check_in", args=[card.pk])
    assert url in _card_page(advisor_client, card)
    advisor_client.post(url)
    visit = CustomerVisit.objects.get(job_card=card)
    assert visit.visit_type == "walk_in"
    assert url not in _card_page(advisor_client, card)


def test_marketing_sees_the_visit_without_check_out_or_rating_controls(client, vehicle, location):
    visit = check_in(vehicle, location=location)
    complete(visit.job_card)
    _login(client, "marketing")
    html = _card_page(client, visit.job_card)
    assert "Still in the shop" in html
    assert reverse("shop:job_card_check_out", args=[visit.job_card_id]) not in html
    assert client.post(reverse("shop:job_card_check_out", args=[visit.job_card_id])).status_code == 403
    assert client.post(reverse("shop:job_card_rate", args=[visit.job_card_id]), {}).status_code == 403


def test_job_card_list_filters_by_status_and_location(advisor_client, location):
    mine = factories.make_job_card_in("in_progress", location=location)
    done = factories.make_job_card_in("closed", location=location)
    elsewhere = factories.make_job_card_in("in_progress")
    response = advisor_client.get(reverse("shop:job_card_list"), {"status": "in_progress", "location": location.pk})
    shown = {c.pk for c in response.context["page"].items}
    assert shown == {mine.pk}
    default = advisor_client.get(reverse("shop:job_card_list"))
    assert {c.pk for c in default.context["page"].items} == {mine.pk, elsewhere.pk}
    assert done.display_number not in default.content.decode()


def test_home_shows_todays_appointments_and_the_open_job_cards(advisor_client, vehicle, location):
    now = timezone.now()  # the service accepts a start up to five minutes ago: always "today"
    appointment = factories.make_appointment(vehicle=vehicle, location=location, start_at=now)
    later = factories.make_appointment(vehicle=vehicle, location=location, start_at=now + timedelta(days=2))
    card = factories.make_job_card_in("in_progress", location=location)
    closed = factories.make_job_card_in("closed", location=location)
    response = advisor_client.get(reverse("shop:home"))
    shown = [a.pk for a in response.context["appointments"]]
    assert appointment.pk in shown
    assert later.pk not in shown
    html = response.content.decode()
    assert card.display_number in html
    assert closed.display_number not in html


# --- query counts --------------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_customer_page_query_count_does_not_grow_with_history(advisor_client, location):
    def build(size: int) -> Customer:
        customer = factories.make_customer(home_location=location)
        template = factories.make_template()
        for _ in range(size):
            vehicle = factories.make_vehicle(customer)
            factories.make_appointment(vehicle=vehicle, location=location, services=[template])
            factories.add_line(factories.make_job_card(vehicle=vehicle, location=location))
            services.note_add(customer=customer, actor=SYSTEM, body="note")
        return customer

    small, large = build(1), build(6)
    url = lambda c: reverse("shop:customer_detail", args=[c.pk])  # noqa: E731
    _count(advisor_client, url(small))  # warm the session and caches
    assert _count(advisor_client, url(small)) == _count(advisor_client, url(large))


def test_job_card_page_query_count_does_not_grow_with_lines(advisor_client, location):
    part = factories.make_part()

    def build(size: int) -> JobCard:
        card = factories.make_job_card(location=location)
        for _ in range(size):
            factories.add_line(card)
            factories.add_line(card, kind="part", part=part, unit_price=None)
        return card

    small, large = build(1), build(10)
    url = lambda c: reverse("shop:job_card_detail", args=[c.pk])  # noqa: E731
    _count(advisor_client, url(small))
    assert _count(advisor_client, url(small)) == _count(advisor_client, url(large))


def test_job_card_page_of_a_checked_out_visit_has_the_same_query_count_however_long_the_card(advisor_client, location):
    def build(size: int) -> JobCard:
        visit = check_in(factories.make_vehicle(), location=location)
        for _ in range(size):
            factories.add_line(visit.job_card)
        complete(visit.job_card)
        visit_services.visit_check_out(visit=visit, actor=SYSTEM)
        return visit.job_card

    small, large = build(1), build(10)
    url = lambda c: reverse("shop:job_card_detail", args=[c.pk])  # noqa: E731
    _count(advisor_client, url(small))
    assert _count(advisor_client, url(small)) == _count(advisor_client, url(large))


def test_home_and_lists_query_counts_do_not_grow_with_rows(advisor_client, location):
    def fill(size: int) -> None:
        for _ in range(size):
            vehicle = factories.make_vehicle()
            factories.make_appointment(vehicle=vehicle, location=location,
                                       start_at=timezone.now() + timedelta(minutes=20))
            factories.add_line(factories.make_job_card(vehicle=vehicle, location=location))

    fill(1)
    urls = [reverse("shop:home"), reverse("shop:job_card_list"), reverse("shop:customer_list"),
            reverse("shop:appointment_list") + f"?location={location.pk}"]
    _count(advisor_client, urls[0])
    before = [_count(advisor_client, u) for u in urls]
    fill(5)
    assert [_count(advisor_client, u) for u in urls] == before
