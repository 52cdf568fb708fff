from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicebay.activity.models import Event
from servicebay.core.errors import DomainError
from servicebay.messaging import consent, services
from servicebay.messaging.choices import (
    Channel,
    ConsentSource,
    MessageStatus,
    Purpose,
    SuppressionReason,
)
from servicebay.messaging.models import ConsentRecord
from tests import factories
from tests.messaging.conftest import STAFF

pytestmark = pytest.mark.django_db


def grant(customer, channel, purpose, granted=True, source=ConsentSource.FORM):
    return consent.consent_record(customer=customer, channel=channel, purpose=purpose, granted=granted,
                                  source=source, actor=STAFF)


def test_transactional_allowed_with_an_address_and_no_statement(customer):
    assert consent.can_contact(customer, Channel.EMAIL, Purpose.TRANSACTIONAL).allowed


def test_marketing_needs_explicit_opt_in(customer):
    decision = consent.can_contact(customer, Channel.SMS, Purpose.MARKETING)
    assert not decision.allowed
    assert "no marketing opt-in" in decision.reason
    grant(customer, Channel.SMS, Purpose.MARKETING)
    assert consent.can_contact(customer, Channel.SMS, Purpose.MARKETING).allowed


def test_opt_out_wins_over_earlier_opt_in(customer):
    grant(customer, Channel.EMAIL, Purpose.MARKETING)
    grant(customer, Channel.EMAIL, Purpose.MARKETING, granted=False)
    assert not consent.can_contact(customer, Channel.EMAIL, Purpose.MARKETING).allowed


def test_no_address_means_no_contact(db, location):
    customer = factories.make_customer(home_location=location, email="")
    decision = consent.can_contact(customer, Channel.EMAIL, Purpose.TRANSACTIONAL)
    assert not decision.allowed and decision.reason == "no Email address"


def test_consent_change_records_an_event_in_the_same_transaction(customer):
    record = grant(customer, Channel.SMS, Purpose.MARKETING)
    event = Event.objects.get(kind="consent.changed", subject_id=record.pk)
    assert event.customer_id == customer.pk
    assert event.payload == {"channel": "sms", "purpose": "marketing", "granted": True, "source": "form"}


def test_repeating_the_current_statement_adds_nothing(customer):
    grant(customer, Channel.SMS, Purpose.MARKETING)
    grant(customer, Channel.SMS, Purpose.MARKETING)
    assert ConsentRecord.objects.filter(customer=customer).count() == 1


def test_staff_cannot_regrant_after_a_stop(customer):
    grant(customer, Channel.SMS, Purpose.MARKETING)
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="STOP")
    with pytest.raises(DomainError, match="only they can opt back in"):
        grant(customer, Channel.SMS, Purpose.MARKETING, source=ConsentSource.ADMIN)
    with pytest.raises(DomainError):
        grant(customer, Channel.SMS, Purpose.TRANSACTIONAL, source=ConsentSource.IMPORT)
    assert not consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed


def test_start_keyword_undoes_a_stop_and_restores_marketing_granted_before(customer):
    grant(customer, Channel.SMS, Purpose.MARKETING)
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="Stop")
    assert consent.suppression_active(Channel.SMS, customer.phone) is not None
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="start")
    assert consent.suppression_active(Channel.SMS, customer.phone) is None
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed
    assert consent.can_contact(customer, Channel.SMS, Purpose.MARKETING).allowed


def test_start_does_not_invent_a_marketing_opt_in(customer):
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="UNSUBSCRIBE")
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="UNSTOP")
    assert consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed
    assert not consent.can_contact(customer, Channel.SMS, Purpose.MARKETING).allowed


def test_stop_on_sms_leaves_email_alone(customer):
    services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="QUIT")
    assert consent.can_contact(customer, Channel.EMAIL, Purpose.TRANSACTIONAL).allowed


def test_suppressed_address_blocks_every_customer_who_has_it(location):
    first = factories.make_customer(home_location=location, phone="+13125559876")
    second = factories.make_customer(home_location=location, phone="+13125559876")
    consent.suppression_add(channel=Channel.SMS, address="(312) 555-9876", reason=SuppressionReason.MANUAL,
                            actor=STAFF)
    for customer in (first, second):
        decision = consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL)
        assert not decision.allowed and "suppressed" in decision.reason


def test_email_suppression_is_case_insensitive(customer):
    consent.suppression_add(channel=Channel.EMAIL, address=customer.email.upper(),
                            reason=SuppressionReason.BOUNCE, actor=STAFF)
    assert not consent.can_contact(customer, Channel.EMAIL, Purpose.TRANSACTIONAL).allowed


def test_staff_may_lift_a_bounce_but_not_an_opt_out(customer):
    bounce = consent.suppression_add(channel=Channel.EMAIL, address=customer.email,
                                     reason=SuppressionReason.BOUNCE, actor=STAFF)
    consent.suppression_lift(suppression=bounce, actor=STAFF)
    assert consent.can_contact(customer, Channel.EMAIL, Purpose.TRANSACTIONAL).allowed
    opt_out = consent.suppression_add(channel=Channel.SMS, address=customer.phone,
                                      reason=SuppressionReason.OPT_OUT, actor=STAFF)
    with pytest.raises(DomainError, match="only be lifted by the customer"):
        consent.suppression_lift(suppression=opt_out, actor=STAFF)


def test_adding_the_same_suppression_twice_keeps_one(customer):
    a = consent.suppression_add(channel=Channel.SMS, address=customer.phone, reason="manual", actor=STAFF)
    b = consent.suppression_add(channel=Channel.SMS, address=customer.phone, reason="bounce", actor=STAFF)
    assert a.pk == b.pk


def test_opt_out_suppresses_messages_already_scheduled(reachable):
    message = services.message_schedule(customer=reachable, purpose=Purpose.MARKETING, actor=STAFF,
                                        text="Spring offer", channel=Channel.SMS)
    assert message.status == MessageStatus.QUEUED
    grant(reachable, Channel.SMS, Purpose.MARKETING, granted=False)
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert "opted out" in message.skip_reason


def test_state_as_of_an_earlier_time_uses_the_ledger_then(customer):
    before = timezone.now()
    grant(customer, Channel.EMAIL, Purpose.MARKETING)
    assert not consent.can_contact(customer, Channel.EMAIL, Purpose.MARKETING, at=before).allowed
    assert consent.can_contact(customer, Channel.EMAIL, Purpose.MARKETING,
                               at=timezone.now() + timedelta(seconds=1)).allowed


def test_consent_state_reads_in_constant_queries(customer, django_assert_max_num_queries):
    for _ in range(5):
        grant(customer, Channel.EMAIL, Purpose.MARKETING)
        grant(customer, Channel.EMAIL, Purpose.MARKETING, granted=False)
    with django_assert_max_num_queries(2):
        state = consent.consent_state(customer)
    assert len(state) == 6


def test_channel_order_puts_preference_first(customer):
    consent.contact_preference_set(customer=customer, channel_order=["whatsapp", "sms"], actor=STAFF)
    customer.refresh_from_db()
    assert consent.channel_order(customer) == ["whatsapp", "sms", "email"]


def test_unknown_channel_in_preferences_is_refused(customer):
    with pytest.raises(DomainError) as exc:
        consent.contact_preference_set(customer=customer, channel_order=["pigeon"], actor=STAFF)
    assert exc.value.field == "channel_order"


# --- the rules, for every sequence of statements -------------------------------------------------

ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["staff_grant", "staff_withdraw", "stop", "start"]),
        st.sampled_from(Purpose.values),
    ),
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_consent_rules_hold_for_any_sequence_of_statements(location, actions):
    customer = factories.make_customer(home_location=location)
    stopped, latest, marketing_before_stop = False, {}, False
    for action, purpose in actions:
        if action == "staff_grant":
            if stopped:
                with pytest.raises(DomainError):
                    grant(customer, Channel.SMS, purpose, source=ConsentSource.ADMIN)
                continue
            grant(customer, Channel.SMS, purpose, source=ConsentSource.ADMIN)
            latest[purpose] = True
        elif action == "staff_withdraw":
            grant(customer, Channel.SMS, purpose, granted=False, source=ConsentSource.ADMIN)
            latest[purpose] = False
        elif action == "stop":
            if not stopped:
                marketing_before_stop = latest.get(Purpose.MARKETING) is True
            services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="STOP")
            stopped = True
            latest = {p: False for p in Purpose.values}
        else:
            services.inbound_receive(channel=Channel.SMS, from_address=customer.phone, body="START")
            if stopped:
                latest[Purpose.TRANSACTIONAL] = True
                if marketing_before_stop:
                    latest[Purpose.MARKETING] = True
            else:
                latest[Purpose.TRANSACTIONAL] = True
            stopped = False
        marketing = consent.can_contact(customer, Channel.SMS, Purpose.MARKETING).allowed
        transactional = consent.can_contact(customer, Channel.SMS, Purpose.TRANSACTIONAL).allowed
        assert marketing == (not stopped and latest.get(Purpose.MARKETING) is True), (actions, latest)
        assert transactional == (not stopped and latest.get(Purpose.TRANSACTIONAL) is not False), actions
