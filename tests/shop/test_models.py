"""Identifier validation and the database-level rules of the shop models."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from servicebay.shop.models import Location, Vehicle
from servicebay.shop.validators import normalize_phone, validate_e164, validate_vin, vin_check_digit
from tests import factories


@pytest.mark.parametrize(
    "raw",
    ["(312) 555-0142", "312-555-0142", "312.555.0142", "+1 312 555 0142", "1 (312) 555 0142",
     "  3125550142 "],
)
def test_us_phone_in_any_format_normalises_to_e164(raw):
    assert normalize_phone(raw) == "+13125550142"


def test_international_phone_keeps_its_country_code():
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("raw", ["12345", "call me", "+1 555 555", "(999) 999-9999"])
def test_invalid_phone_is_rejected(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_blank_phone_stays_blank():
    assert normalize_phone("  ") == ""


def test_model_rejects_phone_not_in_e164_form():
    with pytest.raises(ValidationError):
        validate_e164("312-555-0142")


def test_north_american_vin_with_correct_check_digit_is_accepted():
    validate_vin("1HGCM82633A004352")
    validate_vin("1M8GDM9AXKP042788")  # check digit X (remainder 10)
    validate_vin(factories.north_american_vin(4711))


def test_north_american_vin_with_wrong_check_digit_is_rejected():
    vin = "1HGCM82633A004352"
    wrong = vin[:8] + ("4" if vin[8] != "4" else "5") + vin[9:]
    with pytest.raises(ValidationError, match="check digit"):
        validate_vin(wrong)


@pytest.mark.parametrize("vin", ["WVWZZZ1JZXW000001", "VF1RFB00X55555555", "SALGA2EF8EA123456",
                                 "JHMCM56557C404453", "ZFA22300005556777"])
def test_vins_from_outside_north_america_need_no_check_digit(vin):
    # European (W, V, S, Z) and Japanese (J) makers do not use position 9 as a check digit.
    validate_vin(vin)


@pytest.mark.parametrize(
    "vin",
    ["1HGCM82633A00435", "1HGCM82633A0043521", "1HGCM82633A00435I", "WVWZZZ1JZXW00000O",
     "WVWZZZ1JZQW000001", "1HGCM82633A00435!"],
)
def test_vin_of_wrong_length_or_with_i_o_q_is_rejected(vin):
    with pytest.raises(ValidationError):
        validate_vin(vin)


def test_check_digit_follows_the_standard_weights():
    assert vin_check_digit("11111111111111111") == "1"
    assert vin_check_digit("1M8GDM9A0KP042788") == "X"


def test_duplicate_vin_is_a_field_error_on_vin(customer):
    vin = factories.north_american_vin()
    factories.make_vehicle(customer, vin=vin)
    duplicate = Vehicle(customer=customer, vin=vin, make="Ford", model="F-150", year=2018)
    with pytest.raises(ValidationError) as exc:
        duplicate.full_clean()
    assert exc.value.message_dict["vin"] == ["Another vehicle already has this VIN."]


def test_many_vehicles_may_have_no_vin(customer):
    factories.make_vehicle(customer, vin="")
    factories.make_vehicle(customer, vin="")
    assert Vehicle.objects.filter(vin="").count() == 2


def test_database_refuses_a_second_vehicle_with_the_same_vin(customer):
    vin = factories.north_american_vin()
    factories.make_vehicle(customer, vin=vin)
    with pytest.raises(IntegrityError), transaction.atomic():
        Vehicle.objects.create(customer=customer, vin=vin, make="Ford", model="F-150", year=2018)


def test_database_refuses_a_negative_job_card_total(vehicle, location):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    card.total = -1
    with pytest.raises(IntegrityError), transaction.atomic():
        card.save()


def test_database_refuses_two_job_cards_with_one_number_at_a_location(vehicle, location):
    card = factories.make_job_card(vehicle=vehicle, location=location)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(card).objects.create(location=location, number=card.number, customer=card.customer,
                                  vehicle=vehicle)


def test_location_time_zone_must_be_iana(db):
    with pytest.raises(ValidationError) as exc:
        Location(name="Nowhere", time_zone="Central Time").full_clean()
    assert "time_zone" in exc.value.message_dict


def test_customer_time_zone_falls_back_to_home_location(location):
    customer = factories.make_customer(home_location=location)
    assert customer.effective_time_zone == "America/Chicago"
    customer.time_zone = "Europe/Berlin"
    assert customer.effective_time_zone == "Europe/Berlin"
