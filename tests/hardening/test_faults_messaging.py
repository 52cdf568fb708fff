"""Fault injection for messaging (issue 8): the worker SIGKILLed mid-dispatch, providers that time
out, answer 5xx or nonsense. After every run the outbox is audited against what the SMTP server and
the SMS API actually received.

What the audit calls an anomaly (``audit``). Emails are told apart by our Message-ID; texts by
(number, text), since that is all the provider's records and the customer's phone show — two
identical texts to one number are interchangeable, and the count of each must match:
- *duplicate*: a message received more than once;
- *lost*: recorded ``sent``/``delivered`` but never received; received but recorded ``failed`` or
  queued again; still pending (queued, deferred, sending) after the final settling run; an SMS left
  ``unknown`` although the provider can be asked; something received that no message accounts for.
An email left ``unknown`` and held for a person is not lost: SMTP cannot be asked, and the row says
so (whether or not the server got it, a person decides — it is never resent blindly). But it must
be one whose hand-off had started: an email held although its attempt never reached the SMTP
conversation is an anomaly too (*held needlessly*) — it was certainly not sent, and is queued again.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import time as clock
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

from servicebay.messaging import journeys, outbox, services
from servicebay.messaging.choices import Channel, MessageStatus, Purpose
from servicebay.messaging.models import Message
from servicebay.messaging.tasks import messaging_run, messaging_run_once
from tests import factories
from tests.messaging.conftest import STAFF, Mailbox, free_port
from tests.messaging.provider_emulator import ACCOUNT, TOKEN, TwilioEmulator
from tests.worker_db import Source as WorkerSource

REPO = Path(settings.BASE_DIR)
PENDING = {MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING}
SENT = {MessageStatus.SENT, MessageStatus.DELIVERED}
MESSAGE_ID = re.compile(r"<sb\.(\d+)\.")


# --- the outside world: an SMTP server and the SMS API, both able to misbehave ------------------


class FaultyMailbox(Mailbox):
    """aiosmtpd handler: ``script[address]`` plays one fault per delivery attempt, then accepts.
    Faults: ``451@rcpt``, ``452@data``, ``554@data`` (refusals), ``stall@data`` (accepts the
    message after the client gave up), ``garbage@data`` (accepts, then answers a line that is no
    SMTP reply). ``ehlo_stalls``: that many connections get no answer to EHLO in time (nothing
    handed over yet)."""

    def __init__(self, *, latency: float = 0.0, stall: float = 3.0) -> None:
        super().__init__()
        self.latency = latency
        self.stall = stall
        self.script: dict[str, list[str]] = {}
        self.faults: Counter = Counter()
        self.ehlo_stalls = 0

    def _next(self, address: str, stage: str) -> str:
        with self.lock:
            queue = self.script.get(address.lower())
            if queue and queue[0].endswith(f"@{stage}"):
                fault = queue.pop(0)
                self.faults[fault] += 1
                return fault.split("@")[0]
        return ""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            stall, self.ehlo_stalls = self.ehlo_stalls > 0, max(self.ehlo_stalls - 1, 0)
            if stall:
                self.faults["stall@ehlo"] += 1
        if stall:
            await asyncio.sleep(self.stall)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = self._next(address, "rcpt")
        if fault == "451":
            return "451 4.3.0 Mail server temporarily rejected message"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._next(envelope.rcpt_tos[0], "data") if envelope.rcpt_tos else ""
        if fault == "452":
            return "452 4.3.1 Insufficient system storage"
        if fault == "554":
            return "554 5.6.0 Message content rejected"
        if fault == "stall":
            await asyncio.sleep(self.stall)
        with self.lock:
            self.envelopes.append(envelope)
        return "this is not an SMTP reply" if fault == "garbage" else "250 Message accepted for delivery"

    def received(self) -> Counter:
        """Message pk -> how many times the server took it (from our Message-ID)."""
        return Counter(int(MESSAGE_ID.match(m["Message-ID"].strip()).group(1)) for m in self.messages())


@pytest.fixture
def mail_server(settings):
    mailbox = FaultyMailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    settings.PUBLIC_BASE_URL = "https://shop.example"
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def sms_api(settings):
    emulator = TwilioEmulator().start()
    settings.SMS_API_URL, settings.SMS_ACCOUNT_SID, settings.SMS_API_KEY = emulator.base_url, ACCOUNT, TOKEN
    settings.SMS_FROM = "+13125550100"
    settings.MESSAGING_HTTP_TIMEOUT = 0.5
    settings.PUBLIC_BASE_URL = "https://shop.example"
    yield emulator
    emulator.stop()


# --- the audit -----------------------------------------------------------------------------------


@dataclass
class Row:
    pk: int
    channel: str
    status: str
    to: str
    body: str
    last_error: str
    handoff_started_at: object  # when this attempt's email hand-off began (None: it never did)


COLUMNS = ("id", "channel", "status", "to_address", "body", "last_error", "handoff_started_at")


def orm_rows() -> list[Row]:
    return [Row(*values) for values in Message.objects.order_by("pk").values_list(*COLUMNS)]


@dataclass
class Audit:
    anomalies: list[str]
    held: int  # emails honestly left unknown for a person
    held_received: int
    held_handed_over: int  # ... of which the hand-off had started (all of them, or it is an anomaly)

    @property
    def count(self) -> int:
        return len(self.anomalies)


def audit(rows: list[Row], *, sms: list[dict], email: Counter) -> Audit:
    """Compare the outbox with what the providers received (see the module docstring)."""
    anomalies: list[str] = []
    held = held_received = held_handed_over = 0
    texts = Counter((item["to"].removeprefix("whatsapp:"), item["body"]) for item in sms)
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.channel != Channel.EMAIL:
            groups.setdefault((row.to, row.body), []).append(row)
    anomalies += [f"text {key} received but no message has it" for key in set(texts) - set(groups)]
    anomalies += [f"email for message {pk} received but no such email" for pk in
                  set(email) - {r.pk for r in rows if r.channel == Channel.EMAIL}]
    for key, group in groups.items():
        received, sent = texts[key], sum(r.status in SENT for r in group)
        maybe = sum(r.status == MessageStatus.UNKNOWN for r in group)
        if received > len(group):
            anomalies.append(f"{len(group)} text(s) {key} received {received} times")
        if sent > received:
            anomalies.append(f"{sent} text(s) {key} recorded sent, {received} received")
        if received > sent + maybe:
            anomalies.append(f"text {key} received {received} times, recorded sent {sent} times")
    for row in rows:
        received = email[row.pk] if row.channel == Channel.EMAIL else None
        where = f"message {row.pk} ({row.channel}, {row.status})"
        if received is not None and received > 1:
            anomalies.append(f"{where} received {received} times")
        if received == 0 and row.status in SENT:
            anomalies.append(f"{where} recorded sent but never received")
        if row.status in PENDING:
            anomalies.append(f"{where} still pending after settling: {row.last_error}")
        elif row.status == MessageStatus.FAILED and (received or not row.last_error):
            anomalies.append(f"{where} failed but received={received}, reason={row.last_error!r}")
        elif row.status == MessageStatus.UNKNOWN:
            if row.channel != Channel.EMAIL or not row.last_error.startswith("Held for a person"):
                anomalies.append(f"{where} unknown and not reconciled: {row.last_error}")
            if row.channel == Channel.EMAIL and row.handoff_started_at is None:
                anomalies.append(f"{where} held for a person although its hand-off never started")
            held += 1
            held_received += bool(received)
            held_handed_over += row.handoff_started_at is not None
        elif row.status not in SENT | {MessageStatus.FAILED, MessageStatus.UNKNOWN}:
            anomalies.append(f"{where} unexpectedly {row.status}")
    return Audit(anomalies, held, held_received, held_handed_over)


def template(code: str):
    return services.message_template_create(
        actor=STAFF, code=code, name=code, purpose="transactional",
        email_subject="Booked, {{ customer.first_name }}", email_text="See you soon, {{ customer.first_name }}.",
        sms_body="See you soon, {{ customer.first_name }}.")


def open_location():
    return factories.make_location(quiet_hours_start=clock(0), quiet_hours_end=clock(0))


# --- 1. SIGKILL during dispatch ------------------------------------------------------------------


class Source(WorkerSource):
    """The worker's database, with the outbox as rows."""

    def rows(self) -> list[Row]:
        return [Row(*r) for r in self.query(f"SELECT {', '.join(COLUMNS)} FROM messaging_message ORDER BY id")]


def _worker(source: Source, tmp_path: Path, mail: FaultyMailbox, api: TwilioEmulator, *, final: bool = False):
    env = {**os.environ, "DATABASE_URL": source.url, "SERVICEBAY_VAR_DIR": str(tmp_path / "var"),
           "DEBUG": "false", "MESSAGING_CONSOLE_PROVIDER": "false", "TASK_BACKEND": "database",
           "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(mail.port), "EMAIL_TIMEOUT": "1.0",
           "SMS_API_URL": api.base_url, "SMS_ACCOUNT_SID": ACCOUNT, "SMS_API_KEY": TOKEN,
           "SMS_FROM": "+13125550100", "PUBLIC_BASE_URL": "https://shop.example",
           "MESSAGING_HTTP_TIMEOUT": "1.0", "MESSAGING_LEASE_SECONDS": str(LEASE_SECONDS),
           "MESSAGING_SEND_CONCURRENCY": "2", "LOG_LEVEL": "WARNING"}
    # The production path: `servicebay worker` is db_worker (system checks skipped, as there) running
    # the messaging_run tasks the scheduler enqueues. The settling run is one round by hand.
    args = [sys.executable, "manage.py", "db_worker", "--skip-checks", "--no-startup-delay", "--interval", "0.1"]
    if final:
        args = [sys.executable, "manage.py", "messaging", "--skip-checks", "run"]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _started_tasks(source: Source) -> int:
    return source.query("SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status <> 'READY'")[0][0]


def _last_claim(source: Source):
    return source.query("SELECT MAX(sending_started_at) FROM messaging_message")[0][0]


def _wait(condition, worker: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


LEASE_SECONDS = 4
KILLS = 8


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_at_random_points_loses_and_duplicates_nothing(tmp_path, fault_report, settings):
    seed = int(os.environ.get("FAULT_SEED", random.randrange(10**6)))
    print(f"SIGKILL seed: {seed} (FAULT_SEED={seed} to replay)")
    rng = random.Random(seed)
    mail = FaultyMailbox(latency=0.05)
    controller = Controller(mail, hostname="127.0.0.1", port=free_port())
    controller.start()
    mail.port = controller.port
    api = TwilioEmulator(latency=0.12).start()
    try:
        _sigkill_run(tmp_path, rng, mail, api, fault_report, seed)
    finally:
        api.stop()
        controller.stop()


def _sigkill_run(tmp_path, rng, mail, api, fault_report, seed) -> None:
    location = open_location()
    template("booked")
    journey = journeys.journey_create(actor=STAFF, code="booked", name="Booked", definition={
        "trigger": {"type": "event", "event": "appointment.booked"},
        "steps": [{"type": "send", "template": "booked", "purpose": "transactional", "channels": ["sms"]},
                  {"type": "send", "template": "booked", "purpose": "transactional", "channels": ["email"]}]})
    journeys.journey_set_active(journey=journey, active=True, actor=STAFF)
    customers = [factories.make_customer(home_location=location) for _ in range(16)]
    bookings = 0
    for i, customer in enumerate(customers):
        if i == 10:
            # The first bookings' journeys have already run (their messages wait in the outbox);
            # the worker reads the rest from the event log, between kills.
            messaging_run_once(dispatch=False)
        vehicle = factories.make_vehicle(customer)
        # Some book twice: two identical texts to one number, which reconciliation must tell apart.
        for n in range(2 if i % 4 == 0 else 1):
            factories.make_appointment(vehicle=vehicle, location=location,
                                       start_at=timezone.now() + timedelta(days=3 + n))
            bookings += 1
        for channel in (Channel.SMS, Channel.EMAIL):
            services.message_schedule(customer=customer, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                      channel=channel, text=f"Your car is ready ({i})", subject="Ready",
                                      idempotency_key=f"ready-{channel}-{i}")
    for _ in range(60):  # what `servicebay scheduler` does every minute
        messaging_run.enqueue()
    source = Source(tmp_path)
    in_flight_at_kill, in_dispatch = [], 0
    last_kill = time.monotonic()
    for _ in range(KILLS):
        started, claimed = _started_tasks(source), _last_claim(source)
        worker = _worker(source, tmp_path, mail, api)
        _wait(lambda: _started_tasks(source) > started, worker)  # noqa: B023 - used right here
        # A third of the kills anywhere in the round (events, journeys, leases, reconciling); the
        # rest once it is sending: in a claim, a send or the recording of outcomes.
        if rng.random() < 2 / 3:
            # ... or until the round ends with nothing to send.
            _wait(lambda: _last_claim(source) != claimed or _started_tasks(source) > started + 1,  # noqa: B023
                  worker, timeout=15)
            in_dispatch += _last_claim(source) != claimed
        time.sleep(rng.uniform(0.05, 1.0))
        worker.kill()
        worker.wait()
        last_kill = time.monotonic()
        in_flight_at_kill.append(source.query(
            "SELECT COUNT(*) FROM messaging_message WHERE status = 'sending'")[0][0])
    # A killed round leaves its task "running" for good: that is how many kills landed mid-round.
    killed_mid_round = source.query(
        "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING'")[0][0]
    # Settle: one unkilled worker, once the last killed worker's leases have run out.
    time.sleep(max(0.0, LEASE_SECONDS + 0.5 - (time.monotonic() - last_kill)))
    final = _worker(source, tmp_path, mail, api, final=True)
    output, _ = final.communicate(timeout=120)
    assert final.returncode == 0, output

    rows = source.rows()
    result = audit(rows, sms=api.accepted, email=mail.received())
    enrollments = source.query("SELECT COUNT(*), COUNT(DISTINCT trigger_key) FROM messaging_journeyenrollment")[0]
    if enrollments != (bookings, bookings):
        result.anomalies.append(f"enrollments {enrollments}, bookings {bookings}")
    if len(rows) != 2 * bookings + 2 * len(customers):
        result.anomalies.append(f"{len(rows)} messages for {bookings} bookings and {len(customers)} customers")
    statuses = Counter(r.status for r in rows)
    fault_report.add(
        "messaging: SIGKILL during dispatch (db_worker)", runs=KILLS + 1, faults=KILLS, anomalies=result.count,
        detail=f"seed={seed} messages={len(rows)} kills_mid_round={killed_mid_round} in_dispatch={in_dispatch} "
               f"sending_after_kill={in_flight_at_kill} statuses={dict(statuses)} "
               f"emails_held={result.held} (hand-off started {result.held_handed_over}, "
               f"received {result.held_received})")
    assert result.anomalies == [], result.anomalies
    assert result.held == result.held_handed_over  # only emails the dead worker had begun to hand over
    assert killed_mid_round >= KILLS // 2, in_flight_at_kill  # the kills did land mid-round


# --- 2. provider faults --------------------------------------------------------------------------

# Per recipient: the faults its sends meet in order, and how the message must end.
SMS_SCRIPTS = [
    (["500"], "sent"), (["html502"], "sent"), (["html502", "500", "html502"], "sent"),
    (["hang"], "sent"), (["slow"], "sent"), (["garbage"], "sent"), (["nosid"], "sent"),
    (["drop"], "sent"), (["nosid", "html502", "garbage"], "sent"), (["400"], "failed"),
    (["html502"] * outbox.MAX_ATTEMPTS, "failed"), ([], "sent"), ([], "sent"),
]
EMAIL_SCRIPTS = [
    (["451@rcpt"], "sent"), (["452@data"], "sent"), (["451@rcpt", "452@data"], "sent"),
    (["554@data"], "failed"), (["stall@data"], "unknown"),
    (["garbage@data"], "unknown"), (["451@rcpt"] * outbox.MAX_ATTEMPTS, "failed"), ([], "sent"), ([], "sent"),
]


@pytest.mark.django_db
def test_provider_timeouts_5xx_and_malformed_answers_never_lose_or_duplicate(
    sms_api, mail_server, settings, fault_report,
):
    settings.EMAIL_TIMEOUT = 0.5
    sms_api.hang_seconds = mail_server.stall = 1.0
    location = open_location()
    expected: dict[int, str] = {}
    for i, (script, outcome) in enumerate(SMS_SCRIPTS + EMAIL_SCRIPTS):
        customer = factories.make_customer(home_location=location)
        channel = Channel.SMS if i < len(SMS_SCRIPTS) else Channel.EMAIL
        if channel == Channel.SMS:
            sms_api.script[customer.phone] = list(script)
        else:
            mail_server.script[customer.email.lower()] = list(script)
        message = services.message_schedule(customer=customer, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                            channel=channel, text=f"Faulty {i}", subject="Faults",
                                            idempotency_key=f"fault-{i}")
        expected[message.pk] = outcome
    # Rounds a clock apart that is past every backoff and reconciliation wait; a round never raises.
    now, rounds = timezone.now(), 0
    first_round_sent = None
    while Message.objects.filter(status__in=PENDING).exists() or Message.objects.filter(
            status=MessageStatus.UNKNOWN, lease_until__isnull=False).exists():
        assert rounds < 12, Counter(Message.objects.values_list("status", flat=True))
        summary = messaging_run_once(now=now, plan_dates=False)
        first_round_sent = summary["dispatch_sent"] if first_round_sent is None else first_round_sent
        rounds += 1
        now += timedelta(hours=2)  # ... and in real time, the provider has long finished what it took
        sms_api.wait_idle()
    time.sleep(mail_server.stall)  # the stalled server files its late copy

    result = audit(orm_rows(), sms=sms_api.accepted, email=mail_server.received())
    for message in Message.objects.all():
        want = expected[message.pk]
        got = "sent" if message.status in SENT else message.status
        if got != want:
            result.anomalies.append(f"message {message.pk} ended {got}, expected {want}: {message.last_error}")
        if got == "failed" and not re.search(r"\d{3}", message.last_error):
            result.anomalies.append(f"message {message.pk} failed without the provider's reason")
    # One bad message does not hold up the batch: the fault-free ones went out in the first round.
    clean = sum(1 for script, _ in SMS_SCRIPTS + EMAIL_SCRIPTS if not script)
    faults = sum(sms_api.faults.values()) + sum(mail_server.faults.values())
    fault_report.add("messaging: provider timeouts, 5xx, malformed answers", runs=rounds, faults=faults,
                     anomalies=result.count,
                     detail=f"sms={dict(sms_api.faults)} smtp={dict(mail_server.faults)} held={result.held}")
    assert result.anomalies == [], result.anomalies
    assert first_round_sent >= clean
    assert faults == sum(len(s) for s, _ in SMS_SCRIPTS + EMAIL_SCRIPTS)


@pytest.mark.django_db
def test_a_malformed_lookup_answer_holds_the_message_and_the_round_goes_on(
    sms_api, settings, fault_report,
):
    location = open_location()
    lost, other = (factories.make_customer(home_location=location) for _ in range(2))
    sms_api.script[lost.phone] = ["hang"]
    settings.MESSAGING_HTTP_TIMEOUT = 0.3
    sms_api.hang_seconds = 0.8
    unknown = services.message_schedule(customer=lost, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                        channel=Channel.SMS, text="Lost in the timeout", idempotency_key="lost")
    assert outbox.outbox_dispatch().unknown == 1
    anomalies, faults = 0, 0
    later = timezone.now() + outbox.RECONCILE_EVERY + timedelta(minutes=1)
    for fault in ("list", "garbage", "500"):
        Message.objects.filter(pk=unknown.pk).update(lease_until=later - timedelta(seconds=1))
        sms_api.lookup_fault = fault
        due = services.message_schedule(customer=other, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                        channel=Channel.SMS, text=f"Due ({fault})", idempotency_key=f"due-{fault}")
        summary = messaging_run_once(now=later, plan_dates=False)  # must not raise
        unknown.refresh_from_db()
        due.refresh_from_db()
        faults += 1
        anomalies += unknown.status != MessageStatus.UNKNOWN or not unknown.last_error.startswith("Held")
        anomalies += due.status != MessageStatus.SENT or summary["dispatch_sent"] != 1
    sms_api.lookup_fault = ""
    anomalies += sum(n > 1 for n in sms_api.per_idempotency_key().values())
    fault_report.add("messaging: malformed provider lookups", runs=3, faults=faults, anomalies=anomalies,
                     detail="unknown SMS held for a person; the rest of the round sent")
    assert anomalies == 0


@pytest.mark.django_db
def test_two_lookalike_texts_lost_in_a_crash_are_each_delivered_once(sms_api, fault_report):
    customer = factories.make_customer(home_location=open_location())
    first, _ = (services.message_schedule(customer=customer, purpose=Purpose.TRANSACTIONAL, actor=STAFF,
                                          channel=Channel.SMS, text="Your car is ready",
                                          idempotency_key=f"ready-{n}") for n in range(2))
    claimed = {m.pk: m for m in outbox.outbox_claim()}
    # The provider accepts the first; the worker dies before recording it, and before sending the other.
    outbox.outbox_send(claimed[first.pk])
    later = timezone.now() + outbox.lease() + timedelta(seconds=1)
    outbox.outbox_expire_leases(now=later)
    outbox.outbox_reconcile(now=later)
    outbox.outbox_drain(now=later)
    result = audit(orm_rows(), sms=sms_api.accepted, email=Counter())
    fault_report.add("messaging: crash with two identical texts in flight", runs=1, faults=1,
                     anomalies=result.count, detail="one provider receipt settles one message only")
    assert result.anomalies == [], result.anomalies
    assert len(sms_api.bodies_to(customer.phone)) == 2


@pytest.mark.django_db
def test_a_send_that_cannot_finish_within_its_lease_is_released_not_sent_late(sms_api, settings, fault_report):
    """A lease too short for a slow provider: a send that could still be in flight when the lease
    ends (when another worker may find it unknown, not yet at the provider, and queue it again)
    is released unsent instead."""
    settings.MESSAGING_LEASE_SECONDS = 1.5
    settings.MESSAGING_HTTP_TIMEOUT = 0.6  # a send may take 1.2 s: it must start within 0.3 s
    settings.MESSAGING_SEND_CONCURRENCY = 1
    sms_api.latency = 0.45  # the second claimed row waits longer than that
    location = open_location()
    for i in range(6):
        services.message_schedule(customer=factories.make_customer(home_location=location),
                                  purpose=Purpose.TRANSACTIONAL, actor=STAFF, channel=Channel.SMS,
                                  text=f"Slow {i}", idempotency_key=f"slow-{i}")
    stats = outbox.outbox_dispatch(limit=6)
    queued = list(Message.objects.filter(status=MessageStatus.QUEUED))  # released, or not reached
    released = [m for m in queued if "lease" in m.last_error]
    anomalies = sum(m.attempts != 0 for m in queued)  # a release is not an attempt
    settings.MESSAGING_LEASE_SECONDS = 90
    outbox.outbox_drain()
    sid_lease_end = {m.provider_message_id: m.sending_started_at.timestamp() + settings.MESSAGING_LEASE_SECONDS
                     for m in Message.objects.all()}
    late = [sid for sid, at in sms_api.accepted_at.items() if at > sid_lease_end[sid]]
    result = audit(orm_rows(), sms=sms_api.accepted, email=Counter())
    fault_report.add("messaging: slow provider vs the lease", runs=2, faults=stats.released,
                     anomalies=anomalies + len(late) + result.count,
                     detail=f"released {stats.released} of 6 unsent, none sent after its lease")
    assert stats.released >= len(released) > 0
    assert anomalies == 0 and late == [] and result.anomalies == [], (late, result.anomalies)


@pytest.mark.django_db
def test_a_mail_server_silent_at_the_greeting_is_retried_and_sends_once(mail_server, settings, fault_report):
    settings.EMAIL_TIMEOUT = 0.3
    mail_server.stall, mail_server.ehlo_stalls = 0.8, 2
    message = services.message_schedule(customer=factories.make_customer(home_location=open_location()),
                                        purpose=Purpose.TRANSACTIONAL, actor=STAFF, channel=Channel.EMAIL,
                                        text="After the stall", subject="Stall", idempotency_key="stall")
    now, rounds = timezone.now(), 0
    while Message.objects.filter(pk=message.pk, status__in=PENDING).exists() and rounds < 5:
        outbox.outbox_dispatch(now=now)
        rounds += 1
        now += timedelta(hours=2)
    message.refresh_from_db()
    result = audit(orm_rows(), sms=[], email=mail_server.received())
    anomalies = result.count + (message.status != MessageStatus.SENT) + (message.attempts != 3)
    fault_report.add("messaging: SMTP server silent at the greeting", runs=rounds,
                     faults=mail_server.faults["stall@ehlo"], anomalies=anomalies,
                     detail="nothing handed over: retried with backoff, then sent once")
    assert anomalies == 0, (result.anomalies, message.status, message.attempts, message.last_error)


# --- 3. an unconfigured channel does not pretend ------------------------------------------------


@pytest.mark.django_db
def test_unconfigured_sms_fails_with_the_reason_in_production(settings):
    settings.SMS_API_URL = ""
    settings.DEBUG = False
    settings.MESSAGING_CONSOLE_PROVIDER = False
    message = services.message_schedule(customer=factories.make_customer(home_location=open_location()),
                                        purpose=Purpose.TRANSACTIONAL, actor=STAFF, channel=Channel.SMS,
                                        text="Nobody will read this")
    outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempts == 1
    assert "SMS_API_URL is empty" in message.last_error and message.sent_at is None


@pytest.mark.django_db
def test_unconfigured_sms_is_only_logged_in_a_demo_and_check_deploy_says_so(settings, caplog):
    from django.core.checks import run_checks

    settings.SMS_API_URL = ""
    settings.MESSAGING_CONSOLE_PROVIDER = True
    message = services.message_schedule(customer=factories.make_customer(home_location=open_location()),
                                        purpose=Purpose.TRANSACTIONAL, actor=STAFF, channel=Channel.SMS,
                                        text="Shown in the demo")
    with caplog.at_level("INFO", logger="servicebay.messaging.console"):
        outbox.outbox_dispatch()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.provider_message_id.startswith("console-")
    assert "Shown in the demo" in caplog.text
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert "messaging.W001" in ids
    settings.MESSAGING_CONSOLE_PROVIDER = False
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert "messaging.W002" in ids and "messaging.W001" not in ids
