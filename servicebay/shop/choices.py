from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"


class DistanceUnit(models.TextChoices):
    MILES = "mi", "miles"
    KILOMETRES = "km", "km"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


APPOINTMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    AppointmentStatus.BOOKED: frozenset(
        {AppointmentStatus.CONFIRMED, AppointmentStatus.CHECKED_IN, AppointmentStatus.NO_SHOW,
         AppointmentStatus.CANCELLED}
    ),
    AppointmentStatus.CONFIRMED: frozenset(
        {AppointmentStatus.CHECKED_IN, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED}
    ),
    AppointmentStatus.CHECKED_IN: frozenset(),
    AppointmentStatus.NO_SHOW: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
}
APPOINTMENT_ACTIVE = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


class JobCardStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


# DESIGN §2: open → in_progress → completed → closed; cancelled from any state before closed;
# a completed card may be reopened (back to in_progress), which reverses its loyalty earn.
JOB_CARD_TRANSITIONS: dict[str, frozenset[str]] = {
    JobCardStatus.OPEN: frozenset({JobCardStatus.IN_PROGRESS, JobCardStatus.CANCELLED}),
    JobCardStatus.IN_PROGRESS: frozenset({JobCardStatus.COMPLETED, JobCardStatus.CANCELLED}),
    JobCardStatus.COMPLETED: frozenset(
        {JobCardStatus.CLOSED, JobCardStatus.IN_PROGRESS, JobCardStatus.CANCELLED}
    ),
    JobCardStatus.CLOSED: frozenset(),
    JobCardStatus.CANCELLED: frozenset(),
}
JOB_CARD_EDITABLE = (JobCardStatus.OPEN, JobCardStatus.IN_PROGRESS)


class JobLineKind(models.TextChoices):
    LABOR = "labor", "Labor"
    PART = "part", "Part"
    FEE = "fee", "Fee"
    DISCOUNT = "discount", "Discount"


class Payer(models.TextChoices):
    """Who pays a line. Only customer-paid lines earn loyalty points."""

    CUSTOMER = "customer", "Customer"
    WARRANTY = "warranty", "Warranty"
    INSURANCE = "insurance", "Insurance"
    FLEET = "fleet", "Fleet account"
