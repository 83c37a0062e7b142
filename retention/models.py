"""A project's checkpoint retention policy: which checkpoints of a finished run are kept."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from projects.models import Project


class BestIs(models.TextChoices):
    LOWEST = "min", _("Lowest (a loss)")
    HIGHEST = "max", _("Highest (an accuracy)")


class RetentionPolicy(models.Model):
    """After each run of the project ends, its checkpoints beyond these are deleted (files and records).

    Always kept: checkpoints tagged release or candidate, those a live deployment serves,
    and those a run was resumed from. Without a policy a project keeps every checkpoint.
    """

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="retention_policy", verbose_name=_("project")
    )
    keep_last = models.PositiveIntegerField(
        default=2,
        validators=[MaxValueValidator(1000)],
        help_text=_("The run's latest checkpoints kept (by step)."),
        verbose_name=_("keep last"),
    )
    keep_best = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(1000)],
        help_text=_("The run's best checkpoints kept."),
        verbose_name=_("keep best"),
    )
    best_metric = models.CharField(
        max_length=128,
        blank=True,
        help_text=_("The metric that ranks checkpoints, e.g. eval/loss."),
        verbose_name=_("best metric"),
    )
    best_is = models.CharField(max_length=3, choices=BestIs.choices, default=BestIs.LOWEST, verbose_name=_("best is"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")

    def __str__(self) -> str:
        best = f", best {self.keep_best} by {self.best_metric}" if self.keep_best and self.best_metric else ""
        return f"{self.project}: last {self.keep_last}{best}"
