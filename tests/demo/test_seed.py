"""`servicebay seed`: deterministic, valid, consistent with the shop services, safe to re-run."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from servicebay.activity.models import Event
from servicebay.demo import catalog
from servicebay.demo.services import DEMO_PASSWORD, demo_seed, demo_users_ensure
from servicebay.loyalty.models import (
    CustomerLoyaltyBalance,
    LoyaltyProgram,
    LoyaltyRuleVersion,
    LoyaltyTransaction,
)
from servicebay.shop import services as shop_services
from servicebay.shop.choices import JobCardStatus
from servicebay.shop.models import (
    Appointment,
    Customer,
    JobCard,
    JobLine,
    Location,
    Note,
    Part,
    ServiceTemplate,
    Vehicle,
)
from servicebay.shop.validators import normalize_phone, validate_vin
from servicebay.visits.choices import RecommendationStatus, VisitType
from servicebay.visits.models import CustomerVisit, VisitRecommendation
from servicebay.visits.services import spend_of

AS_OF = "2026-03-02T15:30:00+00:00"
AS_OF_DT = datetime.fromisoformat(AS_OF)
SEEDED = (Location, ServiceTemplate, Part, Customer, Vehicle, Appointment,
          Appointment.services.through, JobCard, JobLine, CustomerVisit, VisitRecommendation, Note,
          LoyaltyProgram, LoyaltyRuleVersion, CustomerLoyaltyBalance, LoyaltyTransaction, Event)
# The points ledger is append-only (the ORM refuses deletes, PostgreSQL triggers refuse DELETE).
LEDGER = (LoyaltyTransaction, CustomerLoyaltyBalance, LoyaltyRuleVersion, LoyaltyProgram)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed", "--as-of", AS_OF, *args, stdout=out)
    return out.getvalue()


def digest() -> str:
    """A hash of every seeded row, in id order (the PostgreSQL transaction id aside)."""
    h = hashlib.sha256()
    for model in SEEDED:
        names = [f.attname for f in model._meta.concrete_fields if f.name != "txid"]
        for row in model.objects.order_by("pk").values_list(*names):
            h.update(repr(row).encode())
    return h.hexdigest()


def wipe() -> None:
    """Empty the seeded tables (the ledger as a test may: TRUNCATE fires no row triggers), with
    id counters reset, so a second seed starts where the first did."""
    tables = [model._meta.db_table for model in LEDGER]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred ledger checks now
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for table in tables:
                cursor.execute(f'DELETE FROM "{table}"')
            cursor.execute("DELETE FROM sqlite_sequence WHERE name IN (%s, %s, %s, %s)", tables)
    for model in reversed(SEEDED):
        if model not in LEDGER:
            model.objects.all().delete()


def test_same_seed_gives_identical_data():
    seed("--customers", "50", "--seed", "7", "--no-users")
    first = digest()
    assert Customer.objects.count() == 50
    wipe()
    seed("--customers", "50", "--seed", "7", "--no-users")
    assert digest() == first


def test_generating_in_a_child_process_gives_the_same_rows():
    demo_seed(customers=30, seed=11, as_of=AS_OF_DT, with_users=False, parallel=False,
              chunk_customers=7)
    sequential = digest()
    wipe()
    demo_seed(customers=30, seed=11, as_of=AS_OF_DT, with_users=False, parallel=True,
              chunk_customers=7)
    assert digest() == sequential


def _schema() -> list[tuple]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'")
            return sorted(cursor.fetchall(), key=repr)
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
        )
        return sorted(cursor.fetchall())


def test_loading_before_indexes_and_foreign_keys_gives_the_same_rows_and_schema():
    schema = _schema()
    demo_seed(customers=30, seed=11, as_of=AS_OF_DT, with_users=False, restore_style=True)
    restored = digest()
    assert _schema() == schema
    wipe()
    demo_seed(customers=30, seed=11, as_of=AS_OF_DT, with_users=False, restore_style=False)
    assert digest() == restored


def test_different_seed_gives_different_data():
    seed("--customers", "50", "--seed", "7", "--no-users")
    first = digest()
    wipe()
    seed("--customers", "50", "--seed", "8", "--no-users")
    assert digest() != first


def test_seeded_rows_pass_model_validation():
    seed("--customers", "50", "--seed", "3")
    for model in (Location, ServiceTemplate, Part, Customer, Vehicle):
        for obj in model.objects.all():
            obj.full_clean()
    for model in (Appointment, JobCard, Note):
        for obj in model.objects.order_by("?")[:25]:
            obj.full_clean()
    for location in Location.objects.all():
        for line in JobLine.objects.filter(job_card__location=location).order_by("?")[:15]:
            line.full_clean()


def test_every_shop_tax_rate_fits_the_job_line_field():
    places = -JobLine._meta.get_field("tax_rate").decimal_places
    for city in catalog.CITIES:
        for rate in (city.parts_tax, city.labor_tax):
            assert rate.as_tuple().exponent >= places, city.name


def test_phones_are_e164_and_vins_pass_the_check_digit():
    seed("--customers", "50", "--seed", "3", "--no-users")
    phones = list(Customer.objects.exclude(phone="").values_list("phone", flat=True))
    phones += list(Location.objects.values_list("phone", flat=True))
    assert phones
    for phone in phones:
        assert normalize_phone(phone) == phone
    vins = list(Vehicle.objects.exclude(vin="").values_list("vin", flat=True))
    assert any(vin[0] in "12345" for vin in vins)
    for vin in vins:
        validate_vin(vin)


def test_job_card_totals_equal_the_services_recalculation():
    seed("--customers", "50", "--seed", "5", "--no-users")
    cards = list(JobCard.objects.prefetch_related("lines"))
    assert len(cards) > 100
    for card in cards:
        stored = (card.subtotal, card.discount_total, card.tax_total, card.total)
        shop_services.job_card_recalculate(card)
        card.refresh_from_db()
        assert (card.subtotal, card.discount_total, card.tax_total, card.total) == stored


def test_job_card_numbers_are_unique_per_location_and_below_the_next_number():
    seed("--customers", "50", "--seed", "5", "--no-users")
    for location in Location.objects.all():
        numbers = list(JobCard.objects.filter(location=location).values_list("number", flat=True))
        assert len(numbers) == len(set(numbers))
        assert location.next_job_card_number > max(numbers, default=0)


def test_history_lies_in_the_past_and_bookings_in_the_next_two_weeks():
    seed("--customers", "50", "--seed", "5", "--no-users")
    assert not Event.objects.filter(occurred_at__gt=AS_OF_DT).exists()
    assert not JobCard.objects.filter(opened_at__gt=AS_OF_DT).exists()
    assert JobCard.objects.filter(opened_at__lt=AS_OF_DT - timedelta(days=4 * 365)).exists()
    upcoming = Appointment.objects.filter(start_at__gt=AS_OF_DT)
    assert upcoming.exists()
    assert not upcoming.filter(start_at__gt=AS_OF_DT + timedelta(days=15)).exists()
    assert JobCard.objects.filter(status__in=[JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS]).exists()
    assert Event.objects.filter(kind="jobcard.closed").count() == JobCard.objects.filter(status="closed").count()


def test_odometer_readings_never_go_backwards():
    seed("--customers", "50", "--seed", "5", "--no-users")
    for vehicle in Vehicle.objects.prefetch_related("job_cards"):
        readings = [c.odometer_in for c in sorted(vehicle.job_cards.all(), key=lambda c: c.opened_at)]
        assert readings == sorted(readings)
        assert vehicle.odometer >= max(readings, default=0)


def test_events_carry_the_writing_transaction_on_postgresql():
    seed("--customers", "20", "--seed", "5", "--no-users")
    missing = Event.objects.filter(txid__isnull=True).count()
    assert missing == (Event.objects.count() if connection.vendor == "sqlite" else 0)


def test_demo_users_have_one_role_each_and_share_the_demo_password():
    out = seed("--customers", "20", "--seed", "5")
    assert DEMO_PASSWORD in out
    for role in ("advisor", "technician", "manager", "marketing", "admin"):
        user = User.objects.get(username=role)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.check_password(DEMO_PASSWORD)
        assert user.is_superuser == (role == "admin")
    advisors = set(JobCard.objects.values_list("advisor__username", flat=True))
    assert advisors <= {"advisor", "manager"} and advisors


def test_demo_users_are_created_once():
    demo_users_ensure()
    demo_users_ensure()
    assert User.objects.count() == 5


def test_if_empty_skips_a_seeded_database():
    seed("--customers", "20", "--seed", "5", "--no-users")
    before = digest()
    assert seed("--customers", "20", "--if-empty") == "already seeded, skipping\n"
    assert digest() == before


def test_refuses_a_database_that_has_customers():
    seed("--customers", "20", "--seed", "5", "--no-users")
    with pytest.raises(CommandError, match="already has customers"):
        seed("--customers", "20", "--no-users")


@pytest.mark.parametrize(
    "args",
    [("--customers", "0"), ("--customers", "lots"), ("--seed", "-1"), ("--as-of", "yesterday")],
)
def test_invalid_arguments_are_one_line_command_errors(args):
    with pytest.raises(CommandError) as excinfo:
        call_command("seed", *args, stdout=io.StringIO())
    assert "\n" not in str(excinfo.value)
    assert not Customer.objects.exists()


def test_invalid_arguments_exit_non_zero_with_one_line(tmp_path):
    env = {**os.environ, "SERVICEBAY_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-m", "servicebay.cli", "seed", "--customers", "many"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["CommandError: --customers must be a whole number, not 'many'."]


def test_every_job_card_has_its_visit_from_check_in_to_check_out():
    seed("--customers", "50", "--seed", "5")
    cards = list(JobCard.objects.select_related("visit"))
    assert len(cards) > 100
    for card in cards:
        visit = card.visit
        assert visit.visit_type == (VisitType.SCHEDULED if card.appointment_id else VisitType.WALK_IN)
        assert visit.appointment_id == card.appointment_id
        assert (visit.customer_id, visit.vehicle_id, visit.location_id) == (
            card.customer_id, card.vehicle_id, card.location_id)
        assert (visit.advisor_id, visit.odometer_in) == (card.advisor_id, card.odometer_in)
        assert visit.check_in_at == card.opened_at
        assert visit.total_spend == spend_of(card)
        if card.status in (JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS):
            assert visit.check_out_at is None
        else:
            assert card.opened_at <= visit.check_out_at <= AS_OF_DT
            assert visit.check_out_at >= (card.completed_at or card.cancelled_at)
    assert CustomerVisit.objects.filter(check_out_at__isnull=True).exists()
    assert CustomerVisit.objects.filter(visit_type=VisitType.WALK_IN).exists()


def test_a_vehicle_is_never_in_the_shop_twice_at_once():
    seed("--customers", "50", "--seed", "5", "--no-users")
    for vehicle in Vehicle.objects.prefetch_related("visits"):
        visits = sorted(vehicle.visits.all(), key=lambda v: v.check_in_at)
        assert sum(v.check_out_at is None for v in visits) <= 1
        for earlier, later in itertools.pairwise(visits):
            assert earlier.check_out_at is not None and earlier.check_out_at <= later.check_in_at


def test_seeded_visits_and_recommendations_pass_model_validation():
    seed("--customers", "50", "--seed", "3")
    for model in (CustomerVisit, VisitRecommendation):
        for obj in model.objects.order_by("?")[:40]:
            obj.full_clean()
    visits = CustomerVisit.objects.count()
    rated = CustomerVisit.objects.filter(satisfaction_score__isnull=False)
    checked_out = CustomerVisit.objects.filter(check_out_at__isnull=False).count()
    assert 0.15 * checked_out < rated.count() < 0.5 * checked_out
    assert set(rated.values_list("satisfaction_score", flat=True)) <= {1, 2, 3, 4, 5}
    with_recommendations = CustomerVisit.objects.filter(recommendations__isnull=False).distinct().count()
    assert 0.1 * visits < with_recommendations < 0.9 * visits
    statuses = set(VisitRecommendation.objects.values_list("status", flat=True))
    assert statuses == {RecommendationStatus.ACCEPTED, RecommendationStatus.DECLINED,
                        RecommendationStatus.SUGGESTED}
    assert not VisitRecommendation.objects.filter(
        status=RecommendationStatus.DECLINED, measured_value="",
        service_template__code__in=("BRAKE-F", "BRAKE-R", "TIRE-SET")).exists()


def test_recommendations_live_inside_their_visit_and_recoveries_point_to_an_earlier_decline():
    seed("--customers", "80", "--seed", "5", "--no-users")
    recommendations = list(VisitRecommendation.objects.select_related(
        "visit", "recovered_from__visit", "job_line"))
    for rec in recommendations:
        end = rec.visit.check_out_at or AS_OF_DT
        assert rec.visit.check_in_at <= rec.created_at <= end
        if rec.status != RecommendationStatus.SUGGESTED:
            assert rec.created_at <= rec.decided_at <= end
        else:
            assert rec.visit.check_out_at is None
        if rec.job_line is not None:
            assert rec.status == RecommendationStatus.ACCEPTED
            assert rec.job_line.job_card_id == rec.visit.job_card_id
            assert rec.job_line.service_template_id == rec.service_template_id
        earlier = rec.recovered_from
        if earlier is not None:
            assert earlier.status == RecommendationStatus.DECLINED
            assert earlier.service_template_id == rec.service_template_id
            assert earlier.visit.vehicle_id == rec.visit.vehicle_id
            assert earlier.declined_at <= rec.created_at
    recovered = [r for r in recommendations if r.recovered_from_id is not None]
    assert any(r.status == RecommendationStatus.ACCEPTED for r in recovered)
    froms = [r.recovered_from_id for r in recovered]
    assert len(froms) == len(set(froms))


def test_visit_and_recommendation_events_match_the_rows():
    seed("--customers", "50", "--seed", "5", "--no-users")
    visits = CustomerVisit.objects
    recs = VisitRecommendation.objects
    expected = {
        "visit.checked_in": visits.count(),
        "visit.checked_out": visits.filter(check_out_at__isnull=False).count(),
        "visit.rated": visits.filter(satisfaction_score__isnull=False).count(),
        "recommendation.suggested": recs.count(),
        "recommendation.declined": recs.filter(status=RecommendationStatus.DECLINED).count(),
        "recommendation.accepted": recs.filter(status=RecommendationStatus.ACCEPTED).count(),
    }
    for kind, count in expected.items():
        assert Event.objects.filter(kind=kind).count() == count, kind
    for visit in visits.filter(satisfaction_score__isnull=False)[:20]:
        event = Event.objects.get(kind="visit.rated", subject_id=visit.pk)
        assert event.subject_type == "visits.customervisit"
        assert event.occurred_at == visit.satisfaction_recorded_at
        assert event.payload["score"] == visit.satisfaction_score
    for rec in recs.filter(status=RecommendationStatus.ACCEPTED)[:20]:
        event = Event.objects.get(kind="recommendation.accepted", subject_id=rec.pk)
        assert event.subject_type == "visits.visitrecommendation"
        assert event.customer_id == rec.visit.customer_id
        assert event.payload["recovered_from"] == rec.recovered_from_id
        assert event.payload["estimated_price"] == str(rec.estimated_price)


@pytest.mark.django_db(transaction=True)
def test_seed_fills_the_segment_stats_so_filters_see_the_history():
    from django.core.management import call_command

    from servicebay.segments.models import CustomerStats

    call_command("seed", customers=30, seed=11, users=False, stdout=io.StringIO())
    assert CustomerStats.objects.count() == Customer.objects.count() == 30
    assert CustomerStats.objects.filter(visit_count__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_seed_imports_consent_so_exports_and_journeys_have_an_audience():
    from django.core.management import call_command

    from servicebay.messaging.models import ConsentRecord

    call_command("seed", customers=40, seed=5, users=False, stdout=io.StringIO())
    with_email = Customer.objects.exclude(email="").count()
    assert ConsentRecord.objects.filter(channel="email", purpose="transactional").count() == with_email
    marketing = ConsentRecord.objects.filter(channel="email", purpose="marketing").count()
    assert 0 < marketing < with_email
    assert not ConsentRecord.objects.filter(granted=False).exists()
