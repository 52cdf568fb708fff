import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from servicebay.activity.models import Event
from servicebay.customer360.forms import local_to_utc
from servicebay.shop import services
from servicebay.shop.models import Appointment, Note
from tests import factories

from .helpers import done_card

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, customer, **query):
    base = reverse(f"customer360:{name}", args=[customer.pk])
    if not query:
        return base
    return f"{base}?{urlencode(query, doseq=True)}"


def kpi(html: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}".*?stat__value[^>]*>(.*?)</dd>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def first_feed_item(html: str) -> str:
    return html.split('id="c360-feed-list"', 1)[1].split("</li>", 1)[0]


def test_console_shows_header_kpis_chart_and_feed(advisor_client, customer, vehicle, location):
    done_card(vehicle, location, "120.00")
    done_card(vehicle, location, "30.50", status="closed")
    html = advisor_client.get(url("detail", customer)).content.decode()
    assert f"<h1 class=\"page-title\">{customer.full_name}</h1>" in html
    assert kpi(html, "total_visits") == "2"
    assert kpi(html, "lifetime_spend") == "$150.50"
    assert kpi(html, "next_appointment") == "None booked"
    assert '<svg class="c360-chart"' in html
    assert "Job card #2 closed and paid" in first_feed_item(html)
    assert vehicle.plate in html


def test_console_needs_a_signed_in_user(client, customer):
    response = client.get(url("detail", customer))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_unknown_customer_and_unknown_tab_are_404(advisor_client, customer):
    assert advisor_client.get("/customer360/999999/").status_code == 404
    assert advisor_client.get(url("detail", customer, tab="nope")).status_code == 404


def test_a_user_without_a_role_may_not_open_the_console(client, customer):
    client.force_login(factories.make_user(None))
    assert client.get(url("detail", customer)).status_code == 403


def test_marketing_may_message_but_not_write_notes_or_book(marketing_client, customer, vehicle):
    html = marketing_client.get(url("detail", customer)).content.decode()
    assert 'id="qa-note"' not in html and 'id="qa-appointment"' not in html
    assert 'id="qa-message"' in html


def test_a_technician_may_write_notes_but_not_book(technician_client, customer, vehicle):
    html = technician_client.get(url("detail", customer)).content.decode()
    assert 'id="qa-note"' in html and 'id="qa-appointment"' not in html


def test_tab_switch_by_htmx_returns_only_the_tabs_and_the_panel(advisor_client, customer, vehicle, location):
    done_card(vehicle, location, "42.00")
    response = advisor_client.get(url("detail", customer, tab="vehicles"), HTTP_HX_TARGET="c360-body", **HTMX)
    html = response.content.decode()
    assert "<html" not in html and 'data-tab="vehicles"' in html
    assert 'aria-current="page">Vehicles</a>' in html
    row = html.split(f'data-vehicle="{vehicle.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "$42.00" in row


# --- notes ---------------------------------------------------------------------------------------


def test_added_note_comes_back_at_the_top_of_the_feed(advisor_client, advisor, customer):
    response = advisor_client.post(url("note_add", customer), {"body": "Prefers texts", "pinned": "on"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="c360-feed" class="card c360-feed" aria-labelledby="c360-feed-heading" hx-swap-oob="true"' in html
    assert "Prefers texts" in first_feed_item(html)
    assert 'id="c360-pinned"' in html and "Note added." in html
    note = Note.objects.get(customer=customer)
    assert (note.body, note.pinned, note.author) == ("Prefers texts", True, advisor)


def test_an_empty_note_is_refused_inline_and_nothing_is_saved(advisor_client, customer):
    response = advisor_client.post(url("note_add", customer), {"body": "   "}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Write the note first." in html and 'aria-invalid="true"' in html
    assert not Note.objects.filter(customer=customer).exists()


def test_a_note_without_htmx_redirects_back_to_the_console(advisor_client, customer):
    response = advisor_client.post(url("note_add", customer), {"body": "Plain form post"})
    assert response.status_code == 302 and response["Location"] == url("detail", customer)


def test_a_user_without_notes_permission_cannot_add_one(marketing_client, customer):
    assert marketing_client.post(url("note_add", customer), {"body": "x"}, **HTMX).status_code == 403


# --- appointments --------------------------------------------------------------------------------


def _booking(vehicle, location, day: date, at: str, **extra):
    return {"vehicle": vehicle.pk, "location": location.pk, "date": day.isoformat(), "time": at,
            "duration_minutes": 60, **extra}


def _local_day(location, days=3) -> date:
    return (timezone.now() + timedelta(days=days)).astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()


def test_appointment_is_booked_at_the_locations_local_time(advisor_client, customer, vehicle, location, oil_change):
    day = _local_day(location)
    response = advisor_client.post(
        url("appointment_create", customer),
        _booking(vehicle, location, day, "09:30", services=[oil_change.pk]), **HTMX,
    )
    assert response.status_code == 200, response.content
    appointment = Appointment.objects.get(customer=customer)
    local = appointment.start_at.astimezone(zoneinfo.ZoneInfo("America/Chicago"))
    assert (local.date(), local.hour, local.minute) == (day, 9, 30)
    assert list(appointment.services.all()) == [oil_change]
    html = response.content.decode()
    assert "alert--success" in html
    assert "09:30" in kpi(html, "next_appointment")  # the KPIs come back out of band
    assert "Appointment booked" in first_feed_item(html)


def test_an_overlapping_booking_needs_a_second_explicit_click(advisor_client, customer, vehicle, location):
    day = _local_day(location)
    first = advisor_client.post(url("appointment_create", customer), _booking(vehicle, location, day, "10:00"), **HTMX)
    assert first.status_code == 200
    again = advisor_client.post(url("appointment_create", customer), _booking(vehicle, location, day, "10:30"), **HTMX)
    assert again.status_code == 422
    assert "already booked at that time" in again.content.decode()
    assert 'name="book_anyway"' in again.content.decode()
    assert Appointment.objects.filter(customer=customer).count() == 1
    anyway = advisor_client.post(
        url("appointment_create", customer),
        _booking(vehicle, location, day, "10:30", book_anyway="1"), **HTMX,
    )
    assert anyway.status_code == 200
    assert Appointment.objects.filter(customer=customer).count() == 2


def test_a_time_in_the_past_is_refused_on_the_time_field(advisor_client, customer, vehicle, location):
    yesterday = _local_day(location, days=-1)
    response = advisor_client.post(
        url("appointment_create", customer), _booking(vehicle, location, yesterday, "09:00"), **HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="appt-time_error"' in html and "cannot start in the past" in html


def _second_sunday_of_march(year: int) -> date:
    first = date(year, 3, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7)


def test_a_time_the_clocks_skip_is_refused(advisor_client, customer, vehicle, location):
    # On the second Sunday of March Chicago's clocks jump from 02:00 to 03:00: 02:30 never happens.
    day = _second_sunday_of_march(timezone.now().year + 1)
    response = advisor_client.post(
        url("appointment_create", customer), _booking(vehicle, location, day, "02:30"), **HTMX
    )
    assert response.status_code == 422
    assert "does not exist" in response.content.decode()
    assert not Appointment.objects.exists()


def test_an_ambiguous_time_means_its_first_occurrence():
    # 1 November 2026, 01:30 happens twice in Chicago; the first is in daylight time (UTC-5).
    start = local_to_utc(date(2026, 11, 1), time(1, 30), "America/Chicago")
    assert start == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_a_vehicle_of_another_customer_cannot_be_booked(advisor_client, customer, location):
    stranger = factories.make_vehicle()
    factories.make_vehicle(customer)
    response = advisor_client.post(
        url("appointment_create", customer), _booking(stranger, location, _local_day(location), "09:00"), **HTMX
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_technician_may_not_book(technician_client, customer, vehicle, location):
    response = technician_client.post(
        url("appointment_create", customer), _booking(vehicle, location, _local_day(location), "09:00"), **HTMX
    )
    assert response.status_code == 403


def test_the_conflict_check_warns_while_the_form_is_filled_in(advisor_client, customer, vehicle, location):
    factories.make_appointment(vehicle=vehicle, location=location,
                               start_at=datetime(2099, 5, 5, 15, tzinfo=zoneinfo.ZoneInfo("UTC")))
    clash = advisor_client.get(url("appointment_conflicts", customer,
                                   **_booking(vehicle, location, date(2099, 5, 5), "10:30")), **HTMX)
    assert "already booked at that time" in clash.content.decode()
    free = advisor_client.get(url("appointment_conflicts", customer,
                                  **_booking(vehicle, location, date(2099, 5, 5), "13:00")), **HTMX)
    assert free.content.decode().strip() == ""


def test_a_next_best_action_opens_the_booking_form_prefilled(advisor_client, customer, vehicle, oil_change):
    response = advisor_client.get(url("appointment_form", customer, service=[oil_change.pk],
                                      vehicle=vehicle.pk), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<details id="qa-appointment" class="c360-action" open')
    assert re.search(rf'value="{oil_change.pk}"[^>]*checked', html)
    assert re.search(rf'<option value="{vehicle.pk}" selected>', html)
    assert "autofocus" in html


# --- feed ----------------------------------------------------------------------------------------


def test_the_feed_scrolls_by_keyset_pages(advisor_client, customer):
    for i in range(25):
        services.note_add(customer=customer, actor=factories.SYSTEM, body=f"note number {i}")
    page_one = advisor_client.get(url("detail", customer)).content.decode()
    assert "note number 24<" in page_one and "note number 5<" in page_one
    assert "note number 4<" not in page_one
    more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', page_one).group(1).replace("&amp;", "&")
    page_two = advisor_client.get(more, **HTMX).content.decode()
    assert "note number 4<" in page_two and "note number 0<" in page_two
    assert "Became a customer" in page_two and "note number 5<" not in page_two
    assert "cursor=" not in page_two  # the end of the history


def test_the_feed_filter_shows_one_family(advisor_client, customer, vehicle, location):
    done_card(vehicle, location)
    html = advisor_client.get(url("activity", customer, kind="jobcard"), **HTMX).content.decode()
    kinds = set(re.findall(r'data-kind="([^"]+)"', html))
    assert kinds == {"jobcard.opened", "jobcard.started", "jobcard.completed"}


def test_a_stale_cursor_asks_for_a_reload(advisor_client, customer):
    response = advisor_client.get(url("activity", customer, cursor="forged"), **HTMX)
    assert response.status_code == 422 and "Reload" in response.content.decode()


def test_the_feed_page_works_without_javascript(advisor_client, customer):
    response = advisor_client.get(url("activity", customer, kind="profile"))
    assert response.status_code == 200
    assert "<html" in response.content.decode() and "Became a customer" in response.content.decode()


# --- messages ------------------------------------------------------------------------------------


def test_a_message_is_sent_and_shows_in_the_feed(advisor_client, customer):
    response = advisor_client.post(
        url("message_send", customer), {"text": "Your car is ready", "purpose": "transactional"}, **HTMX
    )
    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert re.search(r"Sending by Email to|Held for quiet hours: goes out by Email", html)
    assert Event.objects.filter(customer=customer, kind="message.scheduled").exists()
    assert 'data-kind="message.scheduled"' in first_feed_item(html)


def test_a_message_without_text_or_template_is_refused_inline(advisor_client, customer):
    response = advisor_client.post(url("message_send", customer), {"purpose": "transactional"}, **HTMX)
    assert response.status_code == 422
    assert "Write a message or choose a template." in response.content.decode()
    assert not Event.objects.filter(customer=customer, kind__startswith="message.").exists()


def test_the_message_preview_says_how_and_when_it_would_go_out(advisor_client, customer):
    html = advisor_client.get(
        url("message_preview", customer, text="Hello", purpose="transactional", channel="sms"), **HTMX
    ).content.decode()
    assert re.search(r"Goes out now by SMS|quiet hours.*by SMS", html, re.S | re.I)
    marketing = advisor_client.get(
        url("message_preview", customer, text="Sale!", purpose="marketing"), **HTMX
    ).content.decode()
    assert "Would not be sent" in marketing  # no marketing opt-in
    assert not Event.objects.filter(customer=customer, kind__startswith="message.").exists()


def test_spend_is_shown_in_the_home_locations_currency(advisor_client, db):
    toronto = factories.make_location(time_zone="America/Toronto", currency="EUR")
    customer = factories.make_customer(home_location=toronto)
    done_card(factories.make_vehicle(customer), toronto, "19.99")
    html = advisor_client.get(url("detail", customer)).content.decode()
    assert kpi(html, "lifetime_spend") == "€19.99"


def test_every_available_tab_renders_in_place(advisor_client, customer, vehicle, location):
    from servicebay.customer360.tabs import available_tabs

    done_card(vehicle, location, "42.00")
    keys = [tab.key for tab in available_tabs()]
    assert {"overview", "vehicles"} <= set(keys)
    for key in keys:
        response = advisor_client.get(url("detail", customer, tab=key), HTTP_HX_TARGET="c360-body", **HTMX)
        assert response.status_code == 200, (key, response.content[:300])
        assert f'data-tab="{key}"' in response.content.decode()
        full = advisor_client.get(url("detail", customer, tab=key))
        assert full.status_code == 200 and b"<html" in full.content


def test_a_next_best_action_opens_the_message_form_prefilled(advisor_client, customer):
    html = advisor_client.get(url("message_form", customer, channel="sms", text="You have 120 points"),
                              **HTMX).content.decode()
    assert html.lstrip().startswith('<details id="qa-message" class="c360-action" open')
    assert re.search(r'<option value="sms" selected>', html)
    assert "You have 120 points</textarea>" in html


def test_the_booking_form_loads_when_first_opened_and_leaves_the_focus_alone(advisor_client, customer, vehicle):
    page = advisor_client.get(url("detail", customer)).content.decode()
    shell = page.split('<details id="qa-appointment"', 1)[1].split("</details>", 1)[0]
    assert 'hx-trigger="toggle once"' in shell and "<select" not in shell
    opened = advisor_client.get(url("appointment_form", customer, lazy=1), **HTMX).content.decode()
    assert '<details id="qa-appointment" class="c360-action" open>' in opened
    assert 'name="vehicle"' in opened and "autofocus" not in opened
