"""Forms of the segment screens; the filter is validated by the DSL, errors shown by path."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils import timezone

from .choices import ContactChannel, ContactPurpose, ExportFormat
from .dsl import MAX_DEPTH, FilterInvalid, SegmentFilter, parse_filter
from .services.exports import FIELDS, HEADER_STYLES

EXAMPLE_FILTER = {
    "version": 1,
    "root": {"all": [
        {"field": "lifetime_spend", "op": "gte", "value": "500"},
        {"field": "last_visit", "op": "not_within_days", "value": 180},
        {"field": "consent", "channel": "email", "purpose": "marketing"},
    ]},
}


class FilterField(forms.CharField):
    """A JSON textarea whose value becomes a validated ``SegmentFilter``."""

    widget = forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code-input"})

    def to_python(self, value: Any) -> SegmentFilter | None:
        value = super().to_python(value)
        if not value:
            return None
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from exc
        except RecursionError:
            raise forms.ValidationError(f"Groups nest at most {MAX_DEPTH} deep.") from None
        try:
            return parse_filter(data)
        except FilterInvalid as exc:
            raise forms.ValidationError([f"{e['path']}: {e['msg']}" for e in exc.errors]) from exc


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    filter = FilterField(help_text="The filter as JSON; see the reference beside it.")
    snapshot_every_hours = forms.IntegerField(
        required=False, min_value=1, max_value=744, label="Re-snapshot every (hours)",
        help_text="Leave empty for snapshots by hand only.",
    )


class PreviewForm(forms.Form):
    filter = FilterField()
    as_of = forms.DateTimeField(
        required=False, label="As of", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Relative conditions count back from here; empty means now.",
    )

    def clean_as_of(self):
        return self.cleaned_data.get("as_of") or timezone.now()


class ImportForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(help_text="CSV with a customer_id, email or phone_number column.")


class ExplainForm(forms.Form):
    customer_id = forms.IntegerField(min_value=1, label="Customer id")
    as_of = forms.DateTimeField(required=False, label="As of",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class ExportForm(forms.Form):
    channel = forms.ChoiceField(choices=ContactChannel.choices)
    purpose = forms.ChoiceField(choices=ContactPurpose.choices, initial=ContactPurpose.MARKETING)
    fields = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(name, name) for name in FIELDS], label="Columns",
        help_text="None ticked: id, the contact (hashed without PII permission), first and last name.",
    )
    format = forms.ChoiceField(choices=[(ExportFormat.CSV, "CSV"), (ExportFormat.NDJSON, "NDJSON")])
    header = forms.ChoiceField(choices=[(k, k.capitalize()) for k in HEADER_STYLES],
                               label="Column names for")
