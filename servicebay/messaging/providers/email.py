"""Email over SMTP, through Django's email backend (``EMAIL_HOST``/``EMAIL_PORT`` …)."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Collection
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import strip_tags

from .base import Accepted, OutcomeUnknown, Outgoing, PermanentFailure, TransientFailure


def message_id_for(message: Outgoing) -> str:
    """A Message-ID we can recognise in bounces and replies."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "servicebay.local"
    return f"<sb.{message.message_id}.{message.idempotency_key[-12:] or 'x'}@{domain}>"


def _refusal(code: int, text: str, *, what: str) -> Exception:
    if not 400 <= code < 600:
        # Not an SMTP reply at all (smtplib says -1 for a garbled line). Before the message body
        # nothing was handed over; after it the server may have queued the message.
        if what == "Message":
            return OutcomeUnknown(f"Mail server gave an unreadable answer to the message: {code} {text}",
                                  code=str(code))
        return TransientFailure(f"{what} got an unreadable answer: {code} {text}", code=str(code))
    if 400 <= code < 500:
        return TransientFailure(f"{what} deferred: {code} {text}", code=str(code))
    # A 5xx on the recipient is a hard bounce: the mailbox does not exist or refuses us.
    suppress = "bounce" if what == "Recipient" and code in (550, 551, 553) else ""
    return PermanentFailure(f"{what} refused: {code} {text}", code=str(code), suppress=suppress)


class SmtpEmailProvider:
    name = "smtp"

    def __init__(self, timeout: float = 15.0) -> None:
        self.timeout = timeout

    def send(self, message: Outgoing) -> Accepted:
        msg_id = message_id_for(message)
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body or strip_tags(message.body_html),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={**message.headers, "Message-ID": msg_id},
        )
        if message.body_html:
            email.attach_alternative(message.body_html, "text/html")
        connection = get_connection(fail_silently=False, timeout=self.timeout)
        try:
            connection.open()
            # Greet now (smtplib would do it lazily inside the send): a server that stalls or
            # breaks off here has been handed nothing, so that is a retry, not an unknown outcome.
            smtp = getattr(connection, "connection", None)
            if isinstance(smtp, smtplib.SMTP):
                smtp.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            with contextlib.suppress(Exception):
                connection.close()
            raise TransientFailure(f"Mail server unreachable: {exc}") from exc
        try:
            connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _refusal(code, text.decode(errors="replace") if isinstance(text, bytes) else str(text),
                           what="Recipient") from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _refusal(exc.smtp_code, str(exc.smtp_error), what="Sender") from exc
        except smtplib.SMTPDataError as exc:
            raise _refusal(exc.smtp_code, str(exc.smtp_error), what="Message") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            # The server may have queued the message before the line dropped (or the reply broke).
            raise OutcomeUnknown(f"Mail server went away mid-send: {exc}") from exc
        finally:
            # Closing a broken connection may fail; the outcome is already known.
            with contextlib.suppress(Exception):
                connection.close()
        return Accepted(provider_message_id=msg_id.strip("<>"))

    def lookup(self, message: Outgoing, *, taken: Collection[str] = ()) -> Accepted | None:
        raise OutcomeUnknown("SMTP cannot be asked whether it took a message; a person must decide.")
