"""Django admin for the trials app (audit events are read-only)."""

from django.contrib import admin

from trials.models import (
    Asset,
    AuditEvent,
    Case,
    Dataset,
    GoldStandard,
    MaterialSet,
    Membership,
    Rendition,
    Site,
    Study,
)

for model in (Study, Site, Dataset, Case, GoldStandard, Asset, MaterialSet, Rendition, Membership):
    admin.site.register(model)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("id", "created", "action", "target_type", "target_id", "actor")
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
