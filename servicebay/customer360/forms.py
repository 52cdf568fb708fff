"""The console's quick-action forms. They parse and validate input; the shop services write."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from django import forms

from servicebay.shop import selectors as shop_selectors
from servicebay.shop.models import Customer

from .selectors import bookable_locations, bookable_services


class ConsoleForm(forms.Form):
    """Ids unique on the console (several forms share it) and ARIA wiring for errors."""

    id_prefix = "c360"
    focus_field: str | None = None

    def __init__(self, *args, autofocus: bool = False, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)
        if autofocus and self.focus_field:
            self.fields[self.focus_field].widget.attrs["autofocus"] = True

    def freeze_choices(self, *names: str) -> None:
        """Read each model choice list once: a select without an empty option would otherwise
        query it twice (once to decide on ``required``, once to render)."""
        for name in names:
            field = self.fields[name]
            field.choices = list(iter(field.choices))  # iter(): no COUNT query first

    def add_error(self, field, error) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"{self.id_prefix}-{name}_error"


class NoteForm(ConsoleForm):
    id_prefix = "note"
    focus_field = "body"

    body = forms.CharField(
        label="Note", max_length=5000, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What should the next person know?"}),
        error_messages={"required": "Write the note first."},
    )
    pinned = forms.BooleanField(label="Pin to the top", required=False)


def local_to_utc(day: date, at: time, time_zone: str) -> datetime:
    """A wall-clock time at a location as an aware UTC datetime.

    A time that does not exist (clocks spring forward) is an error; an ambiguous one (clocks fall
    back) means its first occurrence.
    """
    zone = zoneinfo.ZoneInfo(time_zone)
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise forms.ValidationError(
            f"{at:%H:%M} does not exist on {day:%d %b %Y} in {time_zone} (the clocks go forward); "
            "pick another time."
        )
    return aware.astimezone(UTC)


class VehicleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return str(obj)


class ServiceChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.time_zone})"


class AppointmentForm(ConsoleForm):
    """Book a visit in the chosen location's local time."""

    id_prefix = "appt"
    focus_field = "vehicle"

    vehicle = VehicleChoiceField(queryset=None, label="Vehicle", empty_label=None)
    location = LocationChoiceField(queryset=None, label="Location", empty_label=None)
    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(
        label="Time", widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
        help_text="Local time at the location.",
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=24 * 60, initial=60,
        widget=forms.NumberInput(attrs={"step": 5}),
    )
    services = ServiceChoiceField(
        queryset=None, label="Services", required=False, widget=forms.CheckboxSelectMultiple
    )
    notes = forms.CharField(
        label="Notes for the shop", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # Set by the "Book anyway" button after the advisor has seen the conflict warning.
    book_anyway = forms.BooleanField(required=False)

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["vehicle"].queryset = shop_selectors.vehicle_list(customer_id=customer.pk)
        self.fields["location"].queryset = bookable_locations()
        self.fields["services"].queryset = bookable_services()
        self.freeze_choices("vehicle", "location")
        if not self.is_bound and customer.home_location_id:
            self.initial.setdefault("location", customer.home_location_id)

    def clean(self):
        data = super().clean()
        location, day, at = data.get("location"), data.get("date"), data.get("time")
        if location is not None and day is not None and at is not None:
            try:
                data["start_at"] = local_to_utc(day, at, location.time_zone)
            except forms.ValidationError as exc:
                self.add_error("time", exc)
        return data

    @property
    def end_at(self) -> datetime:
        return self.cleaned_data["start_at"] + timedelta(minutes=self.cleaned_data["duration_minutes"])


PURPOSES = [("transactional", "Service message"), ("marketing", "Marketing")]


class MessageForm(ConsoleForm):
    """One message now: a template or free text, on the best channel or the one chosen."""

    id_prefix = "msg"
    focus_field = "text"

    channel = forms.ChoiceField(label="Channel", required=False)
    purpose = forms.ChoiceField(label="Kind", choices=PURPOSES, initial="transactional")
    template = forms.ModelChoiceField(
        queryset=None, label="Template", required=False, empty_label="No template: free text"
    )
    subject = forms.CharField(label="Email subject", required=False, max_length=300)
    text = forms.CharField(
        label="Message", required=False, max_length=1600,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Variables such as {{ customer.first_name }} work here too.",
    )

    def __init__(self, *args, customer: Customer, templates, badges=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["template"].queryset = templates
        preferred = customer.get_preferred_channel_display()
        self.fields["channel"].choices = [
            ("", f"Best channel ({preferred} first, where they consented)"),
            *[(badge.channel, f"{badge.channel_label}: {badge.summary.lower()}") for badge in badges],
        ]

    def clean(self):
        data = super().clean()
        if not data.get("template") and not (data.get("text") or "").strip():
            self.add_error("text", "Write a message or choose a template.")
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "template": data["template"], "text": data["text"].strip(), "subject": data["subject"],
            "channel": data["channel"] or None, "purpose": data["purpose"],
        }
