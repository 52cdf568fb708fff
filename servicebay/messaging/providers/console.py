"""The demo provider: writes the message to the log instead of a network. Used only when no API URL
is configured for the channel (``SMS_API_URL``/``WHATSAPP_API_URL`` empty)."""

from __future__ import annotations

import logging
import uuid

from .base import Accepted, Outgoing

logger = logging.getLogger("servicebay.messaging.console")


class ConsoleProvider:
    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: Outgoing) -> Accepted:
        logger.info("[%s] to %s: %s", self.name, message.to,
                    message.body or f"{message.provider_template} {message.provider_params}")
        return Accepted(provider_message_id=f"console-{uuid.uuid4().hex[:16]}")

    def lookup(self, message: Outgoing) -> Accepted | None:
        return None
