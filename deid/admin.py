from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedModelAdmin
from deid import services
from deid.engine import PolicyConfig
from deid.models import DEFAULT_POLICY_NAME, DeidJob, DeidPolicy, DeidPolicyVersion


class DeidPolicyForm(forms.ModelForm):
    """The policy plus its current rules; saving changed rules adds a version."""

    entities = forms.JSONField(
        label=_("Entities"), help_text=_("Entity type → operator (pseudonymize, mask, redact, hash, keep).")
    )
    min_score = forms.FloatField(label=_("Minimum score"), min_value=0, max_value=1, initial=0.5)
    mask_char = forms.CharField(label=_("Mask character"), min_length=1, max_length=1, strip=False, initial="*")

    class Meta:
        model = DeidPolicy
        fields = ["name", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.current_version if self.instance.pk else None
        config = current.config if current else PolicyConfig.default().to_dict()
        for field in ("entities", "min_score", "mask_char"):
            self.fields[field].initial = config[field]
        if self.instance.pk:
            self.fields["name"].disabled = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not self.errors:
            try:
                cleaned["config"] = PolicyConfig.from_dict(
                    {key: cleaned[key] for key in ("entities", "min_score", "mask_char")}
                )
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned


class DeidPolicyVersionInline(admin.TabularInline):
    """Versions are evidence of what rules a dataset went through: read-only."""

    model = DeidPolicyVersion
    fields = readonly_fields = ("label", "number", "config", "created_by", "created_at")
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(DeidPolicy)
class DeidPolicyAdmin(AuditedModelAdmin):
    form = DeidPolicyForm
    list_display = ["name", "current_version_label", "description", "updated_at"]
    list_filter = ["updated_at"]
    search_fields = ["name", "description"]
    inlines = [DeidPolicyVersionInline]

    @admin.display(description=_("policy version"))
    def current_version_label(self, obj: DeidPolicy) -> str:
        return obj.current_version.label if obj.current_version else "—"

    def save_model(self, request: HttpRequest, obj: DeidPolicy, form: DeidPolicyForm, change: bool) -> None:
        config = form.cleaned_data["config"]
        if change:
            services.update_policy(
                policy=obj, config=config, description=form.cleaned_data["description"], actor=request.user
            )
        else:
            created = services.create_policy(
                name=obj.name, description=obj.description, config=config, actor=request.user
            )
            obj.pk = created.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: DeidPolicy) -> None:
        services.delete_policy(policy=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for policy in queryset.exclude(name=DEFAULT_POLICY_NAME):
            services.delete_policy(policy=policy, actor=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: DeidPolicy | None = None) -> bool:
        return not (obj and obj.is_default) and super().has_delete_permission(request, obj)

    # The services record these changes in the audit log already, with the versions.
    def log_addition(self, request, obj, message):
        return admin.ModelAdmin.log_addition(self, request, obj, message)

    def log_change(self, request, obj, message):
        return admin.ModelAdmin.log_change(self, request, obj, message)

    def log_deletions(self, request, queryset):
        return admin.ModelAdmin.log_deletions(self, request, queryset)


@admin.register(DeidJob)
class DeidJobAdmin(AuditedModelAdmin):
    """Jobs are started through the API or console; here operators watch them. A job's seed
    is shown only to holders of the deid.view_pii_mapping permission, as in the API."""

    list_display = [
        "target_name",
        "status",
        "progress_percent",
        "policy_name",
        "policy_version_label",
        "lines",
        "created_at",
    ]
    list_filter = ["status", "policy_name"]
    search_fields = ["target_name", "policy_name"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in DeidJob._meta.fields] + ["progress_percent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: DeidJob | None = None):
        fields = super().get_fields(request, obj)
        return fields if services.may_reveal_mapping(request.user) else [name for name in fields if name != "seed"]

    @admin.display(description=_("progress"))
    def progress_percent(self, job: DeidJob) -> str:
        return f"{job.progress:.0%}"
