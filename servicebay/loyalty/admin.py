"""Read-only admin views of the loyalty data: every write goes through the services."""

from django.contrib import admin

from .models import CustomerLoyaltyBalance, LoyaltyProgram, LoyaltyRuleVersion, LoyaltyTransaction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(ReadOnlyAdmin):
    list_display = ("name", "currency", "is_active", "current_version", "updated_at")
    list_filter = ("is_active", "currency")


@admin.register(LoyaltyRuleVersion)
class LoyaltyRuleVersionAdmin(ReadOnlyAdmin):
    list_display = ("program", "number", "created_at", "created_by")
    list_filter = ("program",)


@admin.register(CustomerLoyaltyBalance)
class CustomerLoyaltyBalanceAdmin(ReadOnlyAdmin):
    list_display = ("customer", "program", "points_balance", "tier", "lifetime_points", "last_updated_at")
    list_filter = ("program", "tier")
    raw_id_fields = ("customer",)
    search_fields = ("customer__last_name", "customer__email")


@admin.register(LoyaltyTransaction)
class LoyaltyTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "balance", "type", "points", "balance_after",
                    "reference_type", "reference_id", "created_by")
    list_filter = ("type", "reference_type")
    raw_id_fields = ("balance", "reverses")
    search_fields = ("reference_id", "notes")
