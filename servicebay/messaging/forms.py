"""Forms of the messaging screens. They parse input; services validate the rules."""

from __future__ import annotations

import json

from django import forms

from .choices import CHANNELS, Channel, ConsentSource, MessageStatus, Purpose, SuppressionReason
from .models import MessageTemplate

TEXTAREA = {"rows": 4}
STAFF_SOURCES = [(s.value, s.label) for s in (ConsentSource.FORM, ConsentSource.ADMIN, ConsentSource.IMPORT)]


class MessageTemplateForm(forms.Form):
    name = forms.CharField(max_length=120)
    code = forms.SlugField(max_length=60, help_text="Lower-case letters, digits and dashes; journeys refer to it.")
    description = forms.CharField(max_length=300, required=False)
    purpose = forms.ChoiceField(choices=Purpose.choices, initial=Purpose.TRANSACTIONAL)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    email_subject = forms.CharField(max_length=300, required=False, label="Subject")
    email_text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, label="Text body")
    email_html = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, label="HTML body")
    sms_body = forms.CharField(widget=forms.Textarea(attrs=TEXTAREA), required=False, label="SMS text")
    whatsapp_template_name = forms.CharField(max_length=120, required=False, label="Approved template (ContentSid)")
    whatsapp_params = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Template parameters",
        help_text="One per line, in order: line 1 fills {{1}}, line 2 fills {{2}} …",
    )
    whatsapp_body = forms.CharField(widget=forms.Textarea(attrs=TEXTAREA), required=False,
                                    label="Free text (24-hour window only)")

    FIELDS = ("name", "code", "description", "purpose", "is_active", "email_subject", "email_text",
              "email_html", "sms_body", "whatsapp_template_name", "whatsapp_params", "whatsapp_body")

    @classmethod
    def initial_from(cls, template: MessageTemplate) -> dict:
        data = {name: getattr(template, name) for name in cls.FIELDS}
        data["whatsapp_params"] = "\n".join(template.whatsapp_params)
        return data

    def values(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in self.FIELDS}
        data["whatsapp_params"] = [line.strip() for line in (data["whatsapp_params"] or "").splitlines() if line.strip()]
        for name in self.FIELDS:
            if isinstance(data[name], str):
                data[name] = data[name].replace("\r\n", "\n").strip()
        return data


class JourneyForm(forms.Form):
    name = forms.CharField(max_length=120)
    code = forms.SlugField(max_length=60)
    description = forms.CharField(max_length=300, required=False)
    quiet_hours_start = forms.TimeField(required=False, label="Quiet from",
                                        help_text="Leave both empty to use each location's quiet hours.",
                                        widget=forms.TimeInput(attrs={"type": "time"}))
    quiet_hours_end = forms.TimeField(required=False, label="Quiet until",
                                      widget=forms.TimeInput(attrs={"type": "time"}))
    holdout_percent = forms.IntegerField(min_value=0, max_value=50, initial=0, label="Hold-out group (%)",
                                         help_text="Customers kept out as a control group for attribution.")
    attribution_days = forms.IntegerField(min_value=1, max_value=180, initial=14, label="Attribution window (days)")
    definition = forms.CharField(widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
                                 label="Trigger and steps (JSON)")

    def clean_definition(self):
        try:
            return json.loads(self.cleaned_data["definition"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None


class ConsentForm(forms.Form):
    """Ids are prefixed: the panel shows this next to the send form, which also has a channel."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "consent_%s")
        super().__init__(*args, **kwargs)

    channel = forms.ChoiceField(choices=Channel.choices)
    purpose = forms.ChoiceField(choices=Purpose.choices)
    granted = forms.TypedChoiceField(choices=[("yes", "Opt in"), ("no", "Opt out")],
                                     coerce=lambda v: v == "yes", label="Statement")
    source = forms.ChoiceField(choices=STAFF_SOURCES, initial=ConsentSource.ADMIN, label="How it was given")
    note = forms.CharField(max_length=200, required=False)


class PreferenceForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "pref_%s")
        super().__init__(*args, **kwargs)

    first = forms.ChoiceField(choices=Channel.choices, label="First choice")
    second = forms.ChoiceField(choices=Channel.choices, label="Second choice")
    third = forms.ChoiceField(choices=Channel.choices, label="Third choice")

    def order(self) -> list[str]:
        return [self.cleaned_data[name] for name in ("first", "second", "third")]


class SendMessageForm(forms.Form):
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none(), required=False,
                                      empty_label="— Free text —")
    channel = forms.ChoiceField(choices=[("", "Best by preference and consent"), *Channel.choices],
                                required=False)
    purpose = forms.ChoiceField(choices=Purpose.choices, initial=Purpose.TRANSACTIONAL)
    subject = forms.CharField(max_length=300, required=False, label="Email subject")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Message",
                           help_text="Variables work here too, e.g. {{ customer.first_name }}.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "send_%s")
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(is_active=True).order_by("name")

    def clean(self):
        data = super().clean()
        if not data.get("template") and not (data.get("text") or "").strip():
            self.add_error("text", "Choose a template or write a message.")
        return data


class SuppressionForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices)
    address = forms.CharField(max_length=254, help_text="Email address or phone number.")
    reason = forms.ChoiceField(choices=[(r.value, r.label) for r in SuppressionReason if r != SuppressionReason.OPT_OUT])
    note = forms.CharField(max_length=200, required=False)


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *MessageStatus.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "Any channel"), *[(c, Channel(c).label) for c in CHANNELS]],
                                required=False)
