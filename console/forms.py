"""Forms of the console: filters and the inputs the services take."""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from projects.models import Project, ProjectStatus
from runs.models import LogLevel, LogLine

LEVEL_ORDER = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR]


class ProjectFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    owner = forms.CharField(label=_("Owner"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *ProjectStatus.choices])
    tag = forms.CharField(label=_("Tag"), required=False)

    def filter(self, projects: QuerySet[Project]) -> QuerySet[Project]:
        if not self.is_valid():
            return projects
        data = self.cleaned_data
        if data["q"]:
            projects = projects.filter(Q(name__icontains=data["q"]) | Q(description__icontains=data["q"]))
        if data["owner"]:
            projects = projects.filter(owner=data["owner"])
        if data["status"]:
            projects = projects.filter(status=data["status"])
        if data["tag"]:
            # JSON containment is not portable to SQLite; the quoted value matches a whole list item.
            projects = projects.filter(tags__icontains=f'"{data["tag"]}"')
        return projects


class LogFilterForm(forms.Form):
    level = forms.ChoiceField(
        label=_("Level"), required=False, choices=[("", _("All levels")), *[(level, level) for level in LEVEL_ORDER]]
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    start_time = forms.DateTimeField(
        label=_("From (UTC)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        input_formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    after_seq = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def filter(self, lines: QuerySet[LogLine]) -> QuerySet[LogLine]:
        """Lines at or above the chosen level, containing the text, from the chosen time."""
        data = self.cleaned_data
        if data.get("level"):
            lines = lines.filter(level__in=LEVEL_ORDER[LEVEL_ORDER.index(data["level"]) :])
        if data.get("q"):
            lines = lines.filter(message__icontains=data["q"])
        if data.get("start_time"):
            lines = lines.filter(timestamp__gte=data["start_time"])
        return lines
