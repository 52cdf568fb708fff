"""HTML forms of the loyalty screens. They parse input; the services validate rules and write."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms

from servicebay.shop.forms import UIForm

from .rules import InvalidRules, LineInput

RULE_FIELDS = ("accrual_rule", "redemption_rule", "tiers")
RULE_HELP = {
    "accrual_rule": (
        'e.g. {"points_per_unit": "1", "eligible_kinds": ["labor", "part"], "rounding": "down", '
        '"minimum_spend": "0", "category_multipliers": {"Tires": "2"}, "tier_multipliers": '
        '{"gold": "1.5"}, "award_on": "completed", "expire_after_months": 24}'
    ),
    "redemption_rule": (
        'e.g. {"value_per_point": "0.01", "minimum_points": 100, "step": 50, '
        '"max_invoice_share": "0.5"}'
    ),
    "tiers": (
        'e.g. {"basis": "lifetime", "downgrade": false, "levels": [{"code": "member", "name": '
        '"Member", "threshold": 0}, {"code": "gold", "name": "Gold", "threshold": 2000}]}'
    ),
}


def _json_field(label: str, name: str) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, help_text=RULE_HELP[name],
        widget=forms.Textarea(attrs={"rows": 7, "class": "mono", "spellcheck": "false"}),
    )


class ProgramForm(UIForm):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    currency = forms.CharField(max_length=3, min_length=3, initial="USD",
                               help_text="Three-letter ISO code; job cards in this currency earn here.")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    accrual_rule = _json_field("Accrual rule (JSON)", "accrual_rule")
    redemption_rule = _json_field("Redemption rule (JSON)", "redemption_rule")
    tiers = _json_field("Tiers (JSON)", "tiers")

    @classmethod
    def for_program(cls, program) -> ProgramForm:
        return cls(initial={
            "name": program.name, "description": program.description, "currency": program.currency,
            "is_active": program.is_active,
            **{name: json.dumps(getattr(program, name), indent=2) for name in RULE_FIELDS},
        })

    def _clean_json(self, name: str) -> dict[str, Any]:
        text = (self.cleaned_data.get(name) or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object, e.g. {}.")
        return value

    def clean_accrual_rule(self):
        return self._clean_json("accrual_rule")

    def clean_redemption_rule(self):
        return self._clean_json("redemption_rule")

    def clean_tiers(self):
        return self._clean_json("tiers")

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def add_rule_errors(self, exc: InvalidRules) -> None:
        """Put each rule problem under the JSON box it belongs to."""
        for name in RULE_FIELDS:
            for message in exc.messages_for(name):
                self.add_error(name, message)


class PreviewForm(UIForm):
    """The sample invoice of the editor's live preview."""

    labor = forms.DecimalField(label="Labor", min_value=0, max_digits=12, decimal_places=2,
                               initial=Decimal("120.00"), required=False)
    parts = forms.DecimalField(label="Parts", min_value=0, max_digits=12, decimal_places=2,
                               initial=Decimal("45.00"), required=False)
    fees = forms.DecimalField(label="Fees", min_value=0, max_digits=12, decimal_places=2,
                              initial=Decimal("0"), required=False)
    discount = forms.DecimalField(label="Discount", min_value=0, max_digits=12, decimal_places=2,
                                  initial=Decimal("0"), required=False)
    category = forms.CharField(label="Service category", max_length=60, required=False,
                               help_text="Applies category bonuses to the labor line.")
    tier = forms.CharField(label="Member's tier", max_length=30, required=False)

    def lines(self) -> list[LineInput]:
        data = self.cleaned_data
        spec = [("labor", "Labor", data.get("labor"), data.get("category") or ""),
                ("part", "Parts", data.get("parts"), ""), ("fee", "Fees", data.get("fees"), ""),
                ("discount", "Discount", data.get("discount"), "")]
        return [
            LineInput(line_id=None, kind=kind, description=label, category=category,
                      payer="customer", net=-amount if kind == "discount" else amount)
            for kind, label, amount, category in spec if amount
        ]


class RedeemForm(UIForm):
    points = forms.IntegerField(label="Points to use", min_value=1, max_value=10_000_000)


class AdjustForm(UIForm):
    program = forms.ModelChoiceField(queryset=None, empty_label=None)
    points = forms.IntegerField(
        label="Points", min_value=-10_000_000, max_value=10_000_000,
        help_text="Positive adds points, negative takes them away.",
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Kept on the ledger row for auditors.")

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError("Adjust by a number of points other than zero.")
        return points
