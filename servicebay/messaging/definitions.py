"""Journey definitions as data: a trigger and a list of steps, validated by pydantic on write.

Stored as JSON on ``Journey.definition``; the version on the journey goes up with every change so
an enrollment can say which definition it followed.

Example (post-service follow-up)::

    {"trigger": {"type": "event", "event": "visit.checked_out"},
     "steps": [{"type": "wait", "days": 2, "at_local_time": "10:00"},
               {"type": "condition", "check": "no_open_job_card"},
               {"type": "send", "template": "post-service-follow-up", "purpose": "transactional",
                "expire_after_hours": 48}]}
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from servicebay.core.errors import DomainError

EVENT_TRIGGERS = (
    "visit.checked_out",
    "jobcard.completed",
    "recommendation.declined",
    "appointment.booked",
    "loyalty.tier_changed",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventTrigger(_Model):
    type: Literal["event"]
    event: Literal[EVENT_TRIGGERS]  # type: ignore[valid-type]


class BirthdayTrigger(_Model):
    type: Literal["birthday"]
    send_at: time = Field(time(10, 0), description="Local time on the birthday.")


class AppointmentTrigger(_Model):
    type: Literal["appointment_upcoming"]
    hours_before: int = Field(24, ge=1, le=24 * 14)


class ServiceDueTrigger(_Model):
    type: Literal["service_due"]
    days_before: int = Field(7, ge=0, le=60)
    send_at: time = Field(time(10, 0), description="Local time of day to send.")


Trigger = Annotated[
    EventTrigger | BirthdayTrigger | AppointmentTrigger | ServiceDueTrigger,
    Field(discriminator="type"),
]
DATE_TRIGGERS = ("birthday", "appointment_upcoming", "service_due")


class WaitStep(_Model):
    type: Literal["wait"]
    days: int = Field(0, ge=0, le=365)
    hours: int = Field(0, ge=0, le=24 * 365)
    at_local_time: time | None = Field(None, description="Then move to this local time of day.")

    @model_validator(mode="after")
    def _some_wait(self) -> WaitStep:
        if not (self.days or self.hours or self.at_local_time is not None):
            raise ValueError("A wait needs days, hours or a local time.")
        return self


class SendStep(_Model):
    type: Literal["send"]
    template: str = Field(min_length=1, max_length=60)
    purpose: Literal["transactional", "marketing"] = "transactional"
    channels: list[Literal["email", "sms", "whatsapp"]] | None = Field(
        None, description="Only these channels (in the customer's order); default any."
    )
    expire_after_hours: int | None = Field(None, ge=1, le=24 * 60)
    expire_at: Literal["end_of_local_day", "appointment_start"] | None = None


CONDITION_CHECKS = (
    "not_booked_since_trigger",   # no appointment booked after the trigger
    "no_upcoming_appointment",    # nothing booked ahead
    "no_open_job_card",           # not in the shop right now
    "no_visit_within_days",       # no visit in the last `days`
    "appointment_still_active",   # the trigger's appointment is still booked/confirmed
    "recommendation_still_declined",
    "satisfaction_at_least",      # last rated visit scored at least `score`
    "vehicle_still_owned",        # the trigger's vehicle still belongs to the customer
)


class ConditionStep(_Model):
    type: Literal["condition"]
    check: Literal[CONDITION_CHECKS]  # type: ignore[valid-type]
    days: int | None = Field(None, ge=1, le=3650)
    score: int | None = Field(None, ge=1, le=5)

    @model_validator(mode="after")
    def _arguments(self) -> ConditionStep:
        if self.check == "no_visit_within_days" and self.days is None:
            raise ValueError("no_visit_within_days needs days.")
        if self.check == "satisfaction_at_least" and self.score is None:
            raise ValueError("satisfaction_at_least needs a score.")
        return self


class ExitStep(_Model):
    type: Literal["exit"]
    reason: str = Field("", max_length=120)


Step = Annotated[WaitStep | SendStep | ConditionStep | ExitStep, Field(discriminator="type")]


class JourneyDefinition(_Model):
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _sends_something(self) -> JourneyDefinition:
        if not any(isinstance(s, SendStep) for s in self.steps):
            raise ValueError("A journey needs at least one send step.")
        return self

    @property
    def templates(self) -> list[str]:
        return [s.template for s in self.steps if isinstance(s, SendStep)]


def parse_definition(data: object, *, field: str = "definition") -> JourneyDefinition:
    """Validate a journey definition; errors name the path, e.g. ``steps.1.days``."""
    try:
        return JourneyDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"] if not str(p).endswith("Step") and not str(p).endswith("Trigger"))
        msg = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DomainError(f"{path}: {msg}{more}" if path else f"{msg}{more}", field=field) from None


def describe_step(step: WaitStep | SendStep | ConditionStep | ExitStep) -> str:
    """One line a person can read: "Wait 2 days, then at 10:00"."""
    if isinstance(step, WaitStep):
        parts = [f"{step.days} day{'s' if step.days != 1 else ''}" if step.days else "",
                 f"{step.hours} hour{'s' if step.hours != 1 else ''}" if step.hours else ""]
        text = "Wait " + " ".join(p for p in parts if p) if any(parts) else "Wait"
        return text + (f", then until {step.at_local_time:%H:%M} local" if step.at_local_time else "")
    if isinstance(step, SendStep):
        via = f" via {' / '.join(step.channels)}" if step.channels else ""
        return f"Send “{step.template}” ({step.purpose}){via}"
    if isinstance(step, ConditionStep):
        arg = f" {step.days} days" if step.days else (f" {step.score}" if step.score else "")
        return f"Continue only if {step.check.replace('_', ' ')}{arg}"
    return "Exit" + (f": {step.reason}" if step.reason else "")


def describe_trigger(trigger: EventTrigger | BirthdayTrigger | AppointmentTrigger | ServiceDueTrigger) -> str:
    if isinstance(trigger, EventTrigger):
        return f"When {trigger.event.replace('.', ' ').replace('_', ' ')}"
    if isinstance(trigger, BirthdayTrigger):
        return f"On the customer's birthday at {trigger.send_at:%H:%M}"
    if isinstance(trigger, AppointmentTrigger):
        return f"{trigger.hours_before} hours before an appointment"
    return f"{trigger.days_before} days before a service falls due"
