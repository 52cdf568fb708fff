from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from servicebay.messaging import services
from servicebay.messaging.sms import sms_size
from servicebay.messaging.templating import (
    TemplateInvalid,
    render_text,
    template_validate_source,
)
from servicebay.messaging.variables import template_context
from servicebay.shop import services as shop_services
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db

VALID = {"code": "hello", "name": "Hello", "purpose": "transactional", "sms_body": "Hi {{ customer.first_name }}"}


def create(**overrides):
    return services.message_template_create(actor=STAFF, **{**VALID, **overrides})


def test_template_with_catalogue_variables_is_saved():
    template = create(email_subject="Hi {{ customer.first_name }}", email_text="Your {{ vehicle.label }}")
    assert template.channels == ["email", "sms"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hi {{ customer.frist_name }}", "Unknown variable 'customer.frist_name'"),
        ("Hi {{ shoesize }}", "Unknown variable 'shoesize'"),
        ("Hi {{ customer.first_name", "Line 1"),
        ("{% if %}", "Line 1"),
        ("{{ customer }}", "Write a field of 'customer'"),
    ],
)
def test_unknown_variable_or_syntax_error_is_refused_at_save_time(source, message):
    with pytest.raises(TemplateInvalid, match=message) as exc:
        create(sms_body=source)
    assert exc.value.field == "sms_body"


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__class__ }}",
        "{{ customer['__class__'] }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__ }}",
        "{{ range(10**9)|list }}",
        "{{ customer.first_name|attr('__class__') }}",
        "{{ 'x' * 100000000 }}",
        "{{ 10 ** 100000000 }}",
        "{% for x in customer.first_name.__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
        "{{ self.__init__.__globals__ }}",
        "{{ config }}",
        "{{ request.environ }}",
        "{{ customer.first_name.format(customer) }}",
    ],
)
def test_template_injection_attempts_are_refused(attack):
    with pytest.raises(TemplateInvalid):
        template_validate_source(attack, field="sms_body")


def test_filters_outside_the_allow_list_are_refused():
    with pytest.raises(TemplateInvalid):
        template_validate_source("{{ customer.first_name|xmlattr }}", field="sms_body")
    template_validate_source("{{ customer.first_name|upper }} {{ vehicle.plate|default('no plate') }}", field="x")


def test_html_body_escapes_customer_data(location):
    customer = factories.make_customer(home_location=location, first_name="<script>x</script>")
    template = create(email_subject="Hi", email_html="<p>Hi {{ customer.first_name }}</p>")
    previews = services.message_template_preview(template=template, customer=customer, channel="email")
    assert "&lt;script&gt;" in previews["email"].body_html
    assert "<script>" not in previews["email"].body_html


def test_email_needs_a_subject_and_a_body():
    with pytest.raises(TemplateInvalid) as exc:
        create(email_text="Body without subject")
    assert exc.value.field == "email_subject"


def test_template_needs_at_least_one_channel():
    with pytest.raises(TemplateInvalid):
        create(sms_body="")


def test_whatsapp_parameters_are_validated_each():
    with pytest.raises(TemplateInvalid, match="Parameter"):
        create(whatsapp_template_name="HX123", whatsapp_params=["{{ customer.first_name }}", "{{ nope }}"])


def test_update_revalidates_and_bumps_version():
    template = create()
    updated = services.message_template_update(template=template, actor=STAFF, sms_body="Hello {{ customer.full_name }}")
    assert updated.version == 2
    with pytest.raises(TemplateInvalid):
        services.message_template_update(template=template, actor=STAFF, sms_body="{{ customer.age }}")


def test_preview_renders_a_real_customers_data(location):
    customer = factories.make_customer(home_location=location, first_name="Ana")
    vehicle = factories.make_vehicle(customer, make="Honda", model="Civic", plate="XYZ9")
    shop_services.appointment_book(actor=STAFF, customer=customer, vehicle=vehicle, location=location,
                                   start_at=timezone.now() + timedelta(days=3))
    template = create(sms_body="Hi {{ customer.first_name }}, your {{ vehicle.make }} is due {{ appointment.date }}"
                               " at {{ appointment.location }}")
    text = services.message_template_preview(template=template, customer=customer)["sms"].body
    assert text.startswith("Hi Ana, your Honda is due ")
    assert text.endswith(f" at {location.name}")


def test_preview_explains_missing_data_instead_of_failing(location):
    customer = factories.make_customer(home_location=location)
    template = create(sms_body="See you {{ appointment.when }}")
    assert services.message_template_preview(template=template, customer=customer)["sms"] == (
        "The customer has no upcoming appointment."
    )


def test_appointment_time_is_shown_in_the_customers_zone(location):
    customer = factories.make_customer(home_location=location, time_zone="Europe/Berlin")
    vehicle = factories.make_vehicle(customer)
    start = timezone.now().replace(microsecond=0) + timedelta(days=2)
    shop_services.appointment_book(actor=STAFF, customer=customer, vehicle=vehicle, location=location, start_at=start)
    context = template_context(customer)
    from zoneinfo import ZoneInfo

    assert context["appointment"]["time"] == start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")


def test_rendering_uses_strict_undefined():
    from servicebay.messaging.templating import TemplateRenderError

    with pytest.raises(TemplateRenderError):
        render_text("{{ visit.date }}", {"customer": {"first_name": "A"}})


# --- SMS segments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # é is in the GSM-7 basic set
        ("ç" * 70, "UCS-2", 1),  # ç is not (only Ç is)
        ("ç" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # surrogate pairs: two units each
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_sms_segments_follow_gsm7_and_ucs2_limits(text, encoding, segments):
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)


def test_escape_pair_is_not_split_across_segments():
    # 152 plain + one € (2 septets) does not fit in 153: the € moves to the second segment.
    assert sms_size("a" * 152 + "€" + "a" * 10).segments == 2
    assert sms_size("a" * 152 + "€" + "a" * 152).segments == 3


@given(st.text(max_size=400))
def test_segment_count_is_enough_for_the_units(text):
    size = sms_size(text)
    single, multi = (160, 153) if size.encoding == "GSM-7" else (70, 67)
    if size.units <= single:
        assert size.segments == (1 if text else 0)
    else:
        assert size.segments * multi >= size.units
        assert (size.segments - 1) * multi < size.units + size.segments  # at most one unit wasted per split
