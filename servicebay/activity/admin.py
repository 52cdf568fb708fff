from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "kind", "customer", "subject_type", "subject_id", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("customer", "actor_user")
    readonly_fields = [f.name for f in Event._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
