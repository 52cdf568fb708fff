from django import forms
from django.contrib import admin, messages

from .models import ApiKey
from .roles import SCOPES
from .services import api_key_create, api_key_revoke


class ApiKeyForm(forms.ModelForm):
    """Scopes are picked from the SCOPES table, so a typo is an inline error, not a broken key."""

    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in sorted(SCOPES)],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do; it never gets more than these scopes grant.",
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A key needs a name.")
        return name

    def clean_scopes(self) -> list[str]:
        return sorted(set(self.cleaned_data["scopes"]))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "scopes", *readonly_fields)
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, plaintext = api_key_create(name=obj.name, scopes=obj.scopes, created_by=request.user)
        for field in ("id", "prefix", "key_hash", "scopes", "created_by_id", "created_at"):
            setattr(obj, field, getattr(key, field))
        obj._state.adding = False
        messages.warning(request, f"Copy this key now, it will not be shown again: {plaintext}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
