from django.contrib import admin, messages

from .models import ApiKey
from .services import api_key_create, api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    fields = ("name", "scopes", *readonly_fields)
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, plaintext = api_key_create(name=obj.name, scopes=obj.scopes, created_by=request.user)
        obj.pk = key.pk
        obj.prefix = key.prefix
        messages.warning(request, f"Copy this key now, it will not be shown again: {plaintext}")

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
