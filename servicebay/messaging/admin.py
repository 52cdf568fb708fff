from django.contrib import admin

from .models import (
    ConsentRecord,
    EventCursor,
    InboundMessage,
    Journey,
    JourneyEnrollment,
    Message,
    MessageTemplate,
    Suppression,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledgers and logs are written by services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("recorded_at", "customer", "channel", "purpose", "granted", "source", "actor")
    list_filter = ("channel", "purpose", "granted", "source")
    raw_id_fields = ("customer", "actor_user")


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "address", "reason", "lifted_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "purpose", "is_active", "version", "updated_at")


@admin.register(Journey)
class JourneyAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "is_active", "version", "holdout_percent")


@admin.register(JourneyEnrollment)
class JourneyEnrollmentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "journey", "customer", "trigger_key", "status", "step_index", "next_step_at")
    list_filter = ("status", "journey")
    raw_id_fields = ("customer",)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "channel", "purpose", "status", "scheduled_for", "attempts")
    list_filter = ("status", "channel", "purpose")
    raw_id_fields = ("customer", "enrollment")
    search_fields = ("idempotency_key", "provider_message_id", "to_address")


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "channel", "from_address", "keyword", "body")
    list_filter = ("channel", "keyword")


@admin.register(EventCursor)
class EventCursorAdmin(ReadOnlyAdmin):
    list_display = ("name", "last_txid", "last_id", "updated_at")
