"""Django admin for the trials app: read-only.

Every change to trial data goes through a service, in the transaction that writes its
audit row; an admin form would change studies, gold standards, materials or memberships
with no audit row, so the admin may look but not add, change or delete.
"""

from typing import Any

from django.contrib import admin

from trials.models import (
    Asset,
    AuditEvent,
    Case,
    Dataset,
    GoldStandard,
    GoldStandardAmendment,
    MaterialSet,
    Membership,
    Rendition,
    Site,
    Study,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: changes go through the services, which audit them."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


for model in (
    Study,
    Site,
    Dataset,
    Case,
    GoldStandard,
    GoldStandardAmendment,
    Asset,
    MaterialSet,
    Rendition,
    Membership,
):
    admin.site.register(model, ReadOnlyAdmin)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "created", "action", "target_type", "target_id", "actor")
    list_filter = ("action",)
