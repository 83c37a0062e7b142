from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin
from gpus.models import GpuClaim


@admin.register(GpuClaim)
class GpuClaimAdmin(AuditedModelAdmin):
    """The GPU ledger. Claims are made and released by runs and deployments; an operator
    may only delete a claim left behind by a holder that is gone (the deletion is audited)."""

    list_display = ["host", "gpu_index", "holder_kind", "holder_label", "holder_id", "claimed_at"]
    list_filter = ["holder_kind", "host"]
    search_fields = ["holder_id", "holder_label"]
    readonly_fields = ["host", "gpu_index", "holder_kind", "holder_id", "holder_label", "claimed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
