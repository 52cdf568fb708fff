"""A channel with no API URL (``SMS_API_URL``/``WHATSAPP_API_URL`` empty). In a demo or under DEBUG
(``MESSAGING_CONSOLE_PROVIDER``) the message is written to the log and counts as sent; otherwise it
fails with the reason, because nobody received it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection

from .base import Accepted, Outgoing, PermanentFailure

logger = logging.getLogger("servicebay.messaging.console")


class ConsoleProvider:
    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: Outgoing) -> Accepted:
        logger.info("[%s] to %s: %s", self.name, message.to,
                    message.body or f"{message.provider_template} {message.provider_params}")
        return Accepted(provider_message_id=f"console-{uuid.uuid4().hex[:16]}")

    def lookup(self, message: Outgoing, *, taken: Collection[str] = ()) -> Accepted | None:
        return None


class UnconfiguredProvider:
    """Production with no API URL: refuse, so the outbox records a failure instead of a send."""

    def __init__(self, name: str, setting: str) -> None:
        self.name = name
        self.setting = setting

    def send(self, message: Outgoing) -> Accepted:
        raise PermanentFailure(f"{message.channel.upper()} is not configured ({self.setting} is empty): "
                               "nothing was sent.", code="not_configured")

    def lookup(self, message: Outgoing, *, taken: Collection[str] = ()) -> Accepted | None:
        return None  # it never sent anything
