"""Satisfaction: 1 to 5, after check-out, once — by an advisor or through the signed link."""

import time

import pytest
from django.core import signing

from servicebay.activity.models import Event
from servicebay.core.errors import Conflict, DomainError, InvalidTransition
from servicebay.visits import services
from servicebay.visits.choices import SATISFACTION_LINK_MAX_AGE, SatisfactionSource
from tests.factories import SYSTEM
from tests.visits.factories import check_in, finished_visit

pytestmark = pytest.mark.django_db


def test_advisor_records_a_rating_after_check_out(vehicle, location, advisor):
    visit = finished_visit(vehicle, location=location)
    visit = services.visit_rate(visit=visit, score=4, comment=" Quick and friendly ",
                                actor=SYSTEM.for_user(advisor))
    assert (visit.satisfaction_score, visit.satisfaction_comment) == (4, "Quick and friendly")
    assert visit.satisfaction_source == SatisfactionSource.ADVISOR
    assert visit.satisfaction_recorded_by == advisor
    event = Event.objects.get(kind="visit.rated")
    assert event.payload == {"score": 4, "source": "advisor", "has_comment": True}


@pytest.mark.parametrize("score", [0, 6, -1, "five", None, 4.5])
def test_a_score_outside_the_scale_is_refused(vehicle, location, score):
    visit = finished_visit(vehicle, location=location)
    with pytest.raises(DomainError) as exc:
        services.visit_rate(visit=visit, score=score, actor=SYSTEM)
    assert exc.value.field == "score"
    visit.refresh_from_db()
    assert visit.satisfaction_score is None


def test_rating_before_check_out_is_refused(vehicle, location):
    visit = check_in(vehicle, location=location)
    with pytest.raises(InvalidTransition):
        services.visit_rate(visit=visit, score=5, actor=SYSTEM)


def test_a_visit_is_rated_once(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    services.visit_rate(visit=visit, score=5, actor=SYSTEM)
    with pytest.raises(Conflict):
        services.visit_rate(visit=visit, score=1, actor=SYSTEM)
    visit.refresh_from_db()
    assert visit.satisfaction_score == 5
    assert Event.objects.filter(kind="visit.rated").count() == 1


def test_no_survey_link_before_check_out(vehicle, location):
    visit = check_in(vehicle, location=location)
    with pytest.raises(InvalidTransition):
        services.satisfaction_link_token(visit=visit)


def test_the_link_rates_the_visit_as_the_customer(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    token = services.satisfaction_link_token(visit=visit)
    visit = services.visit_rate_from_link(token=token, score=3, comment="Waited long")
    assert visit.satisfaction_source == SatisfactionSource.CUSTOMER_LINK
    assert visit.satisfaction_recorded_by is None
    assert Event.objects.get(kind="visit.rated").actor == f"customer:{vehicle.customer_id}"


def test_a_used_link_is_refused(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    token = services.satisfaction_link_token(visit=visit)
    services.visit_rate_from_link(token=token, score=5)
    with pytest.raises(Conflict):
        services.visit_rate_from_link(token=token, score=1)


def test_a_tampered_link_is_refused(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    token = services.satisfaction_link_token(visit=visit)
    with pytest.raises(services.SatisfactionLinkInvalid):
        services.visit_rate_from_link(token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"), score=5)
    forged = signing.dumps({"v": visit.pk}, salt="someone-else")
    with pytest.raises(services.SatisfactionLinkInvalid):
        services.satisfaction_link_visit(token=forged)


def _link_issued_ago(visit, age_seconds: float) -> str:
    """A survey link as we would have issued it ``age_seconds`` ago."""

    class Then(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - age_seconds))

    return Then(salt=services.SATISFACTION_LINK_SALT).sign_object({"v": visit.pk}, compress=True)


def test_an_expired_link_is_refused(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    token = _link_issued_ago(visit, SATISFACTION_LINK_MAX_AGE.total_seconds() + 60)
    with pytest.raises(services.SatisfactionLinkExpired):
        services.visit_rate_from_link(token=token, score=5)
    visit.refresh_from_db()
    assert visit.satisfaction_score is None


def test_a_link_just_inside_its_lifetime_works(vehicle, location):
    visit = finished_visit(vehicle, location=location)
    token = _link_issued_ago(visit, SATISFACTION_LINK_MAX_AGE.total_seconds() - 60)
    assert services.visit_rate_from_link(token=token, score=5).satisfaction_score == 5
