"""Providers by channel, configured from settings; one HTTP client per configuration is reused."""

from __future__ import annotations

import threading

from django.conf import settings

from ..choices import Channel
from .base import (
    Accepted,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    Provider,
    ProviderFailure,
    TransientFailure,
)
from .console import ConsoleProvider
from .email import SmtpEmailProvider
from .twilio import TwilioHttpProvider

__all__ = [
    "Accepted",
    "OutcomeUnknown",
    "Outgoing",
    "PermanentFailure",
    "Provider",
    "ProviderFailure",
    "TransientFailure",
    "provider_for",
]

_lock = threading.Lock()
_cache: dict[tuple, Provider] = {}


def _http_config(channel: str) -> tuple[str, str, str, str]:
    prefix = "SMS" if channel == Channel.SMS else "WHATSAPP"
    return (
        getattr(settings, f"{prefix}_API_URL", ""),
        getattr(settings, f"{prefix}_ACCOUNT_SID", ""),
        getattr(settings, f"{prefix}_API_KEY", ""),
        getattr(settings, f"{prefix}_FROM", "") or getattr(settings, "SMS_FROM", ""),
    )


def provider_for(channel: str) -> Provider:
    """The provider that sends ``channel`` under the current settings."""
    if channel == Channel.EMAIL:
        return SmtpEmailProvider(timeout=float(getattr(settings, "EMAIL_TIMEOUT", None) or 15))
    url, sid, token, sender = _http_config(channel)
    timeout = float(getattr(settings, "MESSAGING_HTTP_TIMEOUT", 10))
    key = (channel, url, sid, token, sender, timeout)
    with _lock:
        provider = _cache.get(key)
        if provider is None:
            if not url:
                provider = ConsoleProvider(f"console-{channel}")
            else:
                provider = TwilioHttpProvider(
                    name=f"{channel} API", base_url=url, account_sid=sid, token=token,
                    sender=sender, whatsapp=channel == Channel.WHATSAPP, timeout=timeout,
                )
            _cache[key] = provider
        return provider
