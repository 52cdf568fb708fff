"""System checks (``manage.py check --deploy``): a channel that cannot deliver must say so."""

from __future__ import annotations

from django.core import checks

from .providers import console_allowed, unconfigured_channels


@checks.register(checks.Tags.compatibility, deploy=True)
def messaging_channels_configured(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Warn about SMS/WhatsApp with no API URL: in production their messages fail, and with
    ``MESSAGING_CONSOLE_PROVIDER`` on they are only logged, never delivered."""
    found = []
    for channel in unconfigured_channels():
        prefix = channel.upper()
        if console_allowed():
            found.append(checks.Warning(
                f"{prefix}_API_URL is empty and MESSAGING_CONSOLE_PROVIDER is on: {channel} messages are "
                "written to the log and marked sent, but nobody receives them.",
                hint=f"Set {prefix}_API_URL (and its account SID and key), or turn MESSAGING_CONSOLE_PROVIDER off.",
                id="messaging.W001",
            ))
        else:
            found.append(checks.Warning(
                f"{prefix}_API_URL is empty: every {channel} message will fail as not configured.",
                hint=f"Set {prefix}_API_URL, {prefix}_ACCOUNT_SID and {prefix}_API_KEY.",
                id="messaging.W002",
            ))
    return found


@checks.register(checks.Tags.compatibility, deploy=True)
def messaging_lease_outlasts_a_send(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A lease shorter than two sends' worst case (timeouts) makes the outbox release sends
    instead of making them: it only starts a send that can finish within its lease."""
    from .choices import Channel
    from .outbox import lease, send_budget

    worst = max(send_budget(Channel.EMAIL), send_budget(Channel.SMS))
    if lease().total_seconds() >= 2 * worst:
        return []
    return [checks.Warning(
        f"MESSAGING_LEASE_SECONDS ({lease().total_seconds():g}) is under twice the longest send "
        f"({worst:g} s from EMAIL_TIMEOUT / MESSAGING_HTTP_TIMEOUT): slow sends will be released and retried.",
        hint="Raise MESSAGING_LEASE_SECONDS or lower the timeouts.", id="messaging.W003",
    )]
