"""HTML forms of the visits screens: parse and validate input, then views call services."""

from __future__ import annotations

from django import forms

from servicebay.shop.choices import APPOINTMENT_ACTIVE
from servicebay.shop.models import Appointment, Customer, Location, ServiceTemplate

from .choices import SATISFACTION_LABELS, SATISFACTION_MAX, SATISFACTION_MIN, VisitType


class TimelineFilterForm(forms.Form):
    vehicle = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Vehicle")
    visit_type = forms.ChoiceField(
        required=False, label="Visit type", choices=[("", "All types"), *VisitType.choices]
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].choices = [("", "All vehicles")] + [
            (v.pk, str(v)) for v in customer.vehicles.all()
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The last day cannot be before the first day.")
        return data


class CheckInForm(forms.Form):
    vehicle = forms.ModelChoiceField(queryset=None, label="Vehicle")
    appointment = forms.ModelChoiceField(
        queryset=None, required=False, label="Appointment",
        empty_label="No appointment (walk-in)",
        help_text="Choose the booking this visit comes from; leave empty for a walk-in.",
    )
    location = forms.ModelChoiceField(queryset=Location.objects.all(), label="Location")
    odometer_in = forms.IntegerField(
        required=False, min_value=0, max_value=10_000_000, label="Odometer at check-in"
    )

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = customer.vehicles.all()
        self.fields["appointment"].queryset = (
            Appointment.objects.filter(customer=customer, status__in=APPOINTMENT_ACTIVE)
            .select_related("vehicle", "location")
            .order_by("start_at")
        )
        self.fields["appointment"].label_from_instance = (
            lambda a: f"{a.start_at:%Y-%m-%d %H:%M} UTC · {a.vehicle} · {a.location}"
        )

    def clean(self):
        data = super().clean()
        appointment, vehicle = data.get("appointment"), data.get("vehicle")
        if appointment and vehicle and appointment.vehicle_id != vehicle.pk:
            self.add_error("appointment", "This appointment is for another vehicle.")
        return data


class SatisfactionForm(forms.Form):
    score = forms.TypedChoiceField(
        coerce=int, label="How satisfied was the customer?",
        choices=[(n, f"{n} · {SATISFACTION_LABELS[n]}") for n in
                 range(SATISFACTION_MAX, SATISFACTION_MIN - 1, -1)],
    )
    comment = forms.CharField(required=False, max_length=2000, label="Comment",
                              widget=forms.Textarea(attrs={"rows": 2}))


class CustomerSatisfactionForm(SatisfactionForm):
    """The customer's own survey: radio buttons, their own words."""

    score = forms.TypedChoiceField(
        coerce=int, label="How satisfied are you with your visit?", widget=forms.RadioSelect,
        choices=[(n, f"{n} · {SATISFACTION_LABELS[n]}") for n in
                 range(SATISFACTION_MAX, SATISFACTION_MIN - 1, -1)],
    )
    comment = forms.CharField(required=False, max_length=2000, label="Anything we should know?",
                              widget=forms.Textarea(attrs={"rows": 3}))


class RecommendationForm(forms.Form):
    service_template = forms.ModelChoiceField(
        queryset=ServiceTemplate.objects.filter(is_active=True).order_by("name"), label="Service"
    )
    measured_value = forms.CharField(required=False, max_length=120, label="Measured",
                                     help_text='What you found, e.g. "pads 3 mm".')
    estimated_price = forms.DecimalField(required=False, min_value=0, max_digits=12,
                                         decimal_places=2, label="Estimate",
                                         help_text="Leave empty for the catalog price.")
    notes = forms.CharField(required=False, max_length=2000, label="Notes")


class AcceptForm(forms.Form):
    start_at = forms.DateTimeField(
        required=False, label="Book for",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty to add the work to the vehicle's open job card.",
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(required=False, max_length=200, label="Reason")
