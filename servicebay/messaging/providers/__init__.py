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
from .console import ConsoleProvider, UnconfiguredProvider
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
    "console_allowed",
    "provider_for",
    "unconfigured_channels",
]

_lock = threading.Lock()
_cache: dict[tuple, Provider] = {}


def _prefix(channel: str) -> str:
    return "SMS" if channel == Channel.SMS else "WHATSAPP"


def console_allowed() -> bool:
    """May an unconfigured channel write to the log and call it sent? Only in a demo or DEBUG."""
    return bool(getattr(settings, "MESSAGING_CONSOLE_PROVIDER", settings.DEBUG))


def unconfigured_channels() -> list[str]:
    """HTTP channels with no API URL."""
    return [c for c in (Channel.SMS, Channel.WHATSAPP) if not _http_config(c)[0]]


def _http_config(channel: str) -> tuple[str, str, str, str]:
    prefix = _prefix(channel)
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
    console = console_allowed()
    key = (channel, url, sid, token, sender, timeout, console)
    with _lock:
        provider = _cache.get(key)
        if provider is None:
            if not url and console:
                provider = ConsoleProvider(f"console-{channel}")
            elif not url:
                provider = UnconfiguredProvider(f"unconfigured-{channel}", f"{_prefix(channel)}_API_URL")
            else:
                provider = TwilioHttpProvider(
                    name=f"{channel} API", base_url=url, account_sid=sid, token=token,
                    sender=sender, whatsapp=channel == Channel.WHATSAPP, timeout=timeout,
                )
            _cache[key] = provider
        return provider
