from django.contrib import admin

from .models import CustomerStats, ExportLog, Segment, SegmentSnapshot


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "last_count", "last_counted_at", "owner", "archived_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    readonly_fields = ("filter", "filter_version", "last_count", "last_counted_at")


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(admin.ModelAdmin):
    """Snapshots are immutable: view only."""

    list_display = ("pk", "segment", "taken_at", "as_of", "source", "member_count", "taken_by")
    list_select_related = ("segment",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin):
    """The audit trail of exports: view only."""

    list_display = ("started_at", "segment", "actor", "channel", "purpose", "format", "rows", "pii",
                    "status")
    list_filter = ("channel", "purpose", "format", "status", "pii")
    list_select_related = ("segment",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomerStats)
class CustomerStatsAdmin(admin.ModelAdmin):
    list_display = ("customer", "lifetime_spend", "visit_count", "last_visit_at", "loyalty_tier")
    raw_id_fields = ("customer",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False
