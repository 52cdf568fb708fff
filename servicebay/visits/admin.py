"""Read-only admin: visits and recommendations change only through the services (events, rules)."""

from django.contrib import admin

from .models import CustomerVisit, VisitRecommendation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecommendationInline(admin.TabularInline):
    model = VisitRecommendation
    fk_name = "visit"
    extra = 0
    fields = ("service_template", "status", "measured_value", "estimated_price", "decided_at",
              "recovered_from")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CustomerVisit)
class CustomerVisitAdmin(ReadOnlyAdmin):
    list_display = ("id", "check_in_at", "customer", "vehicle", "location", "visit_type",
                    "total_spend", "satisfaction_score", "check_out_at")
    list_filter = ("visit_type", "location")
    list_select_related = ("customer", "vehicle", "location")
    raw_id_fields = ("customer", "vehicle", "job_card", "appointment", "advisor",
                     "satisfaction_recorded_by")
    date_hierarchy = "check_in_at"
    inlines = [RecommendationInline]


@admin.register(VisitRecommendation)
class VisitRecommendationAdmin(ReadOnlyAdmin):
    list_display = ("id", "visit", "service_template", "status", "measured_value",
                    "estimated_price", "created_at", "decided_at")
    list_filter = ("status",)
    list_select_related = ("visit", "service_template")
    raw_id_fields = ("visit", "service_template", "created_by", "decided_by", "recovered_from",
                     "job_line", "appointment")
