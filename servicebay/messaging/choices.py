"""Every enumeration of the messaging app, in one place."""

from django.db import models

from servicebay.shop.choices import Channel

__all__ = [
    "CHANNELS",
    "PENDING_STATUSES",
    "Channel",
    "ConsentSource",
    "EnrollmentStatus",
    "InboundKeyword",
    "MessageStatus",
    "Purpose",
    "SuppressionReason",
]

CHANNELS: tuple[str, ...] = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP)


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class ConsentSource(models.TextChoices):
    FORM = "form", "Form"
    IMPORT = "import", "Import"
    STOP_KEYWORD = "stop_keyword", "STOP keyword"
    START_KEYWORD = "start_keyword", "START keyword"
    UNSUBSCRIBE_LINK = "unsubscribe_link", "Unsubscribe link"
    ADMIN = "admin", "Staff"


# Sources through which only the customer speaks; staff sources cannot undo a STOP.
CUSTOMER_SOURCES = frozenset({ConsentSource.STOP_KEYWORD, ConsentSource.START_KEYWORD,
                              ConsentSource.UNSUBSCRIBE_LINK})


class SuppressionReason(models.TextChoices):
    OPT_OUT = "opt_out", "Opted out"
    BOUNCE = "bounce", "Bounced"
    COMPLAINT = "complaint", "Spam complaint"
    MANUAL = "manual", "Manual"


# Staff may lift these; an opt-out is lifted only by the customer, a complaint never by staff.
STAFF_LIFTABLE = frozenset({SuppressionReason.BOUNCE, SuppressionReason.MANUAL})


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Scheduled"
    DEFERRED = "deferred", "Deferred (quiet hours)"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Unknown — needs reconciling"


PENDING_STATUSES = (MessageStatus.QUEUED, MessageStatus.DEFERRED)
FINAL_STATUSES = (
    MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.SUPPRESSED,
    MessageStatus.SKIPPED, MessageStatus.CANCELLED,
)


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    HELD_OUT = "held_out", "Hold-out (control group)"


class InboundKeyword(models.TextChoices):
    STOP = "stop", "STOP"
    START = "start", "START"
    HELP = "help", "HELP"
    NONE = "", "—"


# The usual carrier keywords (CTIA / Twilio Advanced Opt-Out), matched on the whole trimmed body.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
