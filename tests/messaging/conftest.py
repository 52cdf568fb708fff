from __future__ import annotations

import socket
import threading
from datetime import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from servicebay.core.actors import Actor
from servicebay.messaging import consent
from servicebay.messaging.choices import Channel, ConsentSource, Purpose
from tests import factories
from tests.messaging.provider_emulator import ACCOUNT, TOKEN, TwilioEmulator

STAFF = Actor.system("test-staff")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler that keeps what it received; some recipients bounce."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.bounce: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: SMTP, session, envelope, address: str, rcpt_options):
        if address.lower() in self.bounce:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        import email
        from email import policy

        with self.lock:
            return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp_server(settings):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.PUBLIC_BASE_URL = "https://shop.example"
    yield mailbox
    controller.stop()


@pytest.fixture
def provider(settings):
    """The Twilio-compatible API for SMS and WhatsApp, on a local port."""
    emulator = TwilioEmulator().start()
    for prefix in ("SMS", "WHATSAPP"):
        setattr(settings, f"{prefix}_API_URL", emulator.base_url)
        setattr(settings, f"{prefix}_ACCOUNT_SID", ACCOUNT)
        setattr(settings, f"{prefix}_API_KEY", TOKEN)
    settings.SMS_FROM = "+13125550100"
    settings.WHATSAPP_FROM = "+13125550101"
    settings.MESSAGING_HTTP_TIMEOUT = 1.0
    settings.PUBLIC_BASE_URL = "https://shop.example"
    yield emulator
    emulator.stop()


@pytest.fixture
def open_location(db):
    """A location without quiet hours, so sends are not deferred by the clock the test runs at."""
    return factories.make_location(quiet_hours_start=time(0), quiet_hours_end=time(0))


@pytest.fixture
def reachable(open_location):
    """A customer who opted in to everything on every channel."""
    customer = factories.make_customer(home_location=open_location)
    for channel in (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP):
        for purpose in Purpose.values:
            consent.consent_record(customer=customer, channel=channel, purpose=purpose, granted=True,
                                   source=ConsentSource.FORM, actor=STAFF)
    return customer
