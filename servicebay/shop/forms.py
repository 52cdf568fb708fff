"""HTML forms of the shop screens. They parse and check input; the services do every write."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from servicebay.core.timezones import available_time_zones
from servicebay.visits.forms import SatisfactionForm

from .choices import AppointmentStatus, Channel, DistanceUnit, JobCardStatus, JobLineKind, Payer
from .models import Customer, Location, Part, ServiceTemplate, Vehicle
from .validators import normalize_phone, normalize_vin, validate_vin


class UIForm(forms.Form):
    """Marks fields with errors as aria-invalid and links them to their messages."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"{self.auto_id % name if self.auto_id else name}_error"


def _time_zone_choices() -> list[tuple[str, str]]:
    return [("", "Location's time zone")] + [(tz, tz) for tz in sorted(available_time_zones())]


class CustomerForm(UIForm):
    first_name = forms.CharField(max_length=80)
    last_name = forms.CharField(max_length=80)
    phone = forms.CharField(
        max_length=32, required=False, help_text="Any format; saved as +<country><number>.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    email = forms.EmailField(required=False)
    birthday = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    preferred_channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.EMAIL)
    language = forms.ChoiceField(
        choices=[("en", "English"), ("es", "Spanish"), ("fr", "French"), ("de", "German")],
        initial="en",
    )
    home_location = forms.ModelChoiceField(
        queryset=Location.objects.all(), required=False, empty_label="No home location"
    )
    time_zone = forms.ChoiceField(choices=_time_zone_choices, required=False,
                                  help_text="Only if it differs from the home location's.")

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc

    @classmethod
    def initial_from(cls, customer: Customer) -> dict:
        return {
            "first_name": customer.first_name, "last_name": customer.last_name,
            "phone": customer.phone, "email": customer.email, "birthday": customer.birthday,
            "preferred_channel": customer.preferred_channel, "language": customer.language,
            "home_location": customer.home_location_id, "time_zone": customer.time_zone,
        }


class VehicleForm(UIForm):
    make = forms.CharField(max_length=60)
    model = forms.CharField(max_length=60)
    year = forms.IntegerField(min_value=1900, max_value=2100)
    plate = forms.CharField(max_length=16, required=False)
    vin = forms.CharField(max_length=24, required=False, label="VIN")
    odometer = forms.IntegerField(min_value=0, initial=0)
    odometer_unit = forms.ChoiceField(choices=DistanceUnit.choices, label="Unit")

    def clean_vin(self) -> str:
        vin = normalize_vin(self.cleaned_data["vin"])
        validate_vin(vin)
        return vin


class NoteForm(UIForm):
    body = forms.CharField(
        label="Note", max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What should the next person know?"}),
    )
    pinned = forms.BooleanField(required=False, label="Pin to the top")


def _duration_label(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _location_label(location: Location) -> str:
    return f"{location.name} ({location.time_zone})"


def local_to_utc(day, at, tz_name: str) -> datetime:
    """A wall-clock time in ``tz_name`` as an aware UTC datetime; a time skipped by a DST
    change is an error, an ambiguous one means its first occurrence."""
    zone = zoneinfo.ZoneInfo(tz_name)
    local = datetime.combine(day, at, tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValidationError(
            f"{at:%H:%M} does not exist on {day:%d %b %Y} in {tz_name} (the clocks change)."
        )
    return utc


class AppointmentForm(UIForm):
    location = forms.ModelChoiceField(queryset=Location.objects.all(), empty_label=None)
    vehicle = forms.ModelChoiceField(queryset=Vehicle.objects.none(), empty_label=None)
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time", "step": 300}),
                           help_text="In the location's local time.")
    duration_minutes = forms.TypedChoiceField(
        label="Duration", coerce=int, initial=60,
        choices=[(m, _duration_label(m)) for m in (15, 30, 45, 60, 90, 120, 180, 240, 480)],
    )
    services = forms.ModelMultipleChoiceField(
        queryset=ServiceTemplate.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = Vehicle.objects.filter(customer=customer)
        self.fields["location"].label_from_instance = _location_label
        self.fields["services"].queryset = ServiceTemplate.objects.filter(is_active=True)

    def clean(self) -> dict:
        data = super().clean()
        location, day, at = data.get("location"), data.get("date"), data.get("time")
        if location and day and at:
            try:
                data["start_at"] = local_to_utc(day, at, location.time_zone)
            except ValidationError as exc:
                self.add_error("time", exc)
        return data

    @property
    def end_at(self) -> datetime | None:
        start = self.cleaned_data.get("start_at")
        minutes = self.cleaned_data.get("duration_minutes")
        return start + timedelta(minutes=minutes) if start and minutes else None


class WalkInForm(UIForm):
    location = forms.ModelChoiceField(queryset=Location.objects.all(), empty_label=None)
    vehicle = forms.ModelChoiceField(queryset=Vehicle.objects.none(), empty_label=None)
    odometer_in = forms.IntegerField(min_value=0, required=False, label="Odometer at check-in")

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = Vehicle.objects.filter(customer=customer)
        self.fields["location"].label_from_instance = _location_label


class CheckInForm(UIForm):
    odometer_in = forms.IntegerField(min_value=0, required=False, label="Odometer")


class VisitRatingForm(UIForm, SatisfactionForm):
    """The customer's satisfaction as the advisor hears it, on the job card after check-out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # No score is preselected: the advisor picks what the customer said.
        score = self.fields["score"]
        score.label = "Customer's rating"
        score.choices = [("", "Choose…"), *score.choices]


class JobLineForm(UIForm):
    kind = forms.ChoiceField(choices=JobLineKind.choices, label="Type")
    description = forms.CharField(max_length=200, required=False,
                                  widget=forms.TextInput(attrs={"placeholder": "e.g. Replace front pads"}))
    # The part picker searches the catalogue as the advisor types and fills this hidden id; the
    # catalogue is never rendered, only the submitted id is checked against the active parts.
    part = forms.ModelChoiceField(
        queryset=Part.objects.none(), required=False, widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That part is not in the catalogue or is no longer sold. "
                                          "Search for it again."},
    )
    quantity = forms.DecimalField(min_value=Decimal("0.001"), max_digits=10, decimal_places=3,
                                  initial=Decimal("1"), label="Qty / hours",
                                  widget=forms.NumberInput(attrs={"step": "any"}))
    unit_price = forms.DecimalField(min_value=Decimal("0"), max_digits=12, decimal_places=2,
                                    required=False, label="Unit price",
                                    help_text="Blank uses the part's price.",
                                    widget=forms.NumberInput(attrs={"step": "0.01"}))
    tax_percent = forms.DecimalField(min_value=Decimal("0"), max_value=Decimal("99.99"),
                                     decimal_places=2, initial=Decimal("0"), label="Tax %",
                                     widget=forms.NumberInput(attrs={"step": "0.01"}))
    payer = forms.ChoiceField(choices=Payer.choices, initial=Payer.CUSTOMER)

    def __init__(self, *args, parts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["part"].queryset = parts if parts is not None else Part.objects.filter(is_active=True)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("kind") == JobLineKind.PART and not data.get("part") and "part" not in self.errors:
            self.add_error("part", "Choose the part for a part line.")
        if (data.get("kind") != JobLineKind.PART and data.get("unit_price") is None
                and "unit_price" not in self.errors):
            self.add_error("unit_price", "Give a unit price.")
        return data

    def chosen_part(self) -> Part | None:
        """The part the picker shows as chosen: the valid submitted one, else the initial one."""
        if self.is_bound:
            return getattr(self, "cleaned_data", {}).get("part")
        return self.initial.get("part")

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": data["kind"], "description": data["description"], "quantity": data["quantity"],
            "unit_price": data["unit_price"], "tax_rate": data["tax_percent"] / Decimal(100),
            "part": data["part"] if data["kind"] == JobLineKind.PART else None,
            "payer": data["payer"],
        }


class AppointmentFilterForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.all(), required=False, empty_label=None)
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class JobCardFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), ("active", "Open or in progress"), *JobCardStatus.choices],
        required=False,
    )
    location = forms.ModelChoiceField(queryset=Location.objects.all(), required=False,
                                      empty_label="All locations")


APPOINTMENT_ACTIONS = {
    AppointmentStatus.CONFIRMED: "Confirm",
    AppointmentStatus.NO_SHOW: "No-show",
    AppointmentStatus.CANCELLED: "Cancel",
}
