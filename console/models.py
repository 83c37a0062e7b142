"""What the console keeps for each person: the runs table's columns they chose per project."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from projects.models import Project


class RunTableColumns(models.Model):
    """The hyperparameter and metric columns (`hp:<key>`, `m:<key>`) a person shows in a project's runs table."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", verbose_name=_("project"))
    columns = models.JSONField(default=list, blank=True, verbose_name=_("columns"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("run table columns")
        verbose_name_plural = _("run table columns")
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="one_run_table_per_user_project")]

    def __str__(self) -> str:
        return f"{self.user_id} / {self.project_id}"
