from django.contrib import admin

from .models import SyncRun, TableState


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "status", "mode", "started_at", "finished_at", "triggered_by", "destination")
    list_filter = ("status", "mode")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TableState)
class TableStateAdmin(admin.ModelAdmin):
    list_display = ("table_name", "cursor", "last_synced_at", "full_loaded_at", "rows_loaded_total")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
