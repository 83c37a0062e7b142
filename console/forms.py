"""Forms of the console: filters and the inputs the services take."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib.auth.models import User
from django.db.models import Q
from django.forms.fields import InvalidJSONInput
from django.http import QueryDict
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from datasets.models import TaskType
from deid.models import MAX_SEED, MIN_SEED, DeidPolicy
from deployments.chat import MAX_ANSWER_TOKENS, MAX_PROMPT_CHARS
from llmplatform.api import MAX_OFFSET
from llmplatform.documents import json_document_problem, nested_too_deeply
from llmplatform.users import Visitor
from projects.models import (
    Project,
    ProjectQuerySet,
    ProjectStatus,
    TrainerKind,
    users_named,
    validate_hyperparameters,
    validate_project_name,
)
from projects.services import CONFIGURABLE_FIELDS
from projects.training_files import clean_training_path
from runs.logs import SEVERITY, LogQuery
from runs.metric_series import MAX_EXPORT_ROWS, MAX_POINTS_LIMIT, MAX_STEP, MIN_POINTS, MIN_STEP, SeriesQuery
from runs.models import (
    MAX_GPU_COUNT,
    MAX_PRIORITY,
    MAX_RUN_NOTES_CHARS,
    MAX_RUN_TAG_CHARS,
    MIN_PRIORITY,
    ArtifactTagValue,
    Run,
    RunStatus,
    gpu_request,
)


class ProjectFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    owner = forms.CharField(label=_("Owner"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *ProjectStatus.choices])
    tag = forms.CharField(label=_("Tag"), required=False)

    def filter(self, projects: ProjectQuerySet) -> ProjectQuerySet:
        if not self.is_valid():
            return projects
        data = self.cleaned_data
        if text := data["q"]:
            projects = projects.filter(
                Q(name__icontains=text) | Q(description__icontains=text) | Q(objective__icontains=text)
            )
        if data["owner"]:
            projects = projects.filter(owner=data["owner"])
        if data["status"]:
            projects = projects.filter(status=data["status"])
        if data["tag"]:
            projects = projects.with_tag(data["tag"])
        return projects


class LogFilterForm(forms.Form):
    level = forms.ChoiceField(
        label=_("Level"), required=False, choices=[("", _("All levels")), *[(level, level) for level in SEVERITY]]
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    start_time = forms.DateTimeField(
        label=_("From (UTC)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        input_formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    after_seq = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def query(self, **paging: Any) -> LogQuery:
        """The runs app's log query (the API's) for these filters."""
        data = self.cleaned_data
        return LogQuery(
            level=data.get("level") or None,
            text=data.get("q") or None,
            start_time=data.get("start_time"),
            after_seq=data.get("after_seq"),
            **paging,
        )


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def sentence(problem: str) -> str:
    return f"{capfirst(problem)}."


class JsonObjectField(forms.JSONField):
    """A JSON object typed into a textarea (`{"learning_rate": 2e-5}`); empty means `{}`."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def to_python(self, value: Any) -> Any:
        if value in (None, ""):
            return {}
        try:
            parsed = super().to_python(value)
        except RecursionError:
            raise forms.ValidationError(sentence(nested_too_deeply())) from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError(_('Enter a JSON object, like {"learning_rate": 2e-5}.'))
        if problem := json_document_problem(parsed):
            raise forms.ValidationError(sentence(problem))
        return parsed

    def prepare_value(self, value: Any) -> Any:
        # No initial value is shown empty: JSONField would write `null`, which this field then refuses.
        return "" if value is None else super().prepare_value(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return super().bound_data(data, initial)
        except RecursionError:  # shown again as typed, like any JSON that does not parse
            return InvalidJSONInput(data)


class TrainingPathField(forms.CharField):
    """A file named relative to the training directory; the projects app decides what is safe."""

    def clean(self, value: Any) -> str:
        return clean_training_path(super().clean(value))


TASK_TYPE_CHOICES = [("", "—"), *TaskType.choices]


class ProjectForm(forms.Form):
    """The fields of projects.services.create_project / update_project."""

    name = forms.CharField(label=_("Name"), max_length=200, validators=[validate_project_name])
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    objective = forms.CharField(label=_("Objective"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner = forms.CharField(label=_("Owner"), required=False, max_length=150, help_text=_("Empty: you."))
    status = forms.ChoiceField(label=_("Status"), choices=ProjectStatus.choices, initial=ProjectStatus.ACTIVE)
    task_type = forms.ChoiceField(label=_("Task type"), required=False, choices=TASK_TYPE_CHOICES)
    base_model = forms.CharField(label=_("Base model"), required=False, max_length=512)
    # The lists of files to pick from are datalists of projects/form.html (console.lookups.training_files).
    dataset_name = TrainingPathField(
        label=_("Dataset"),
        required=False,
        max_length=1024,
        help_text=_("Pick an uploaded dataset file, or type a path relative to the training directory."),
        widget=forms.TextInput(attrs={"list": "dataset-files", "autocomplete": "off"}),
    )
    training_yaml_name = TrainingPathField(
        label=_("Training YAML"),
        required=False,
        max_length=1024,
        help_text=_("Pick an uploaded training config, or type a path relative to the training directory."),
        widget=forms.TextInput(attrs={"list": "training-configs", "autocomplete": "off"}),
    )
    default_hyperparameters = JsonObjectField(
        label=_("Default hyperparameters"), required=False, initial=dict, validators=[validate_hyperparameters]
    )
    trainer = forms.ChoiceField(
        label=_("Trainer"),
        required=False,
        choices=[("", _("From its command (LLaMA-Factory's, else unchecked)")), *TrainerKind.choices],
        help_text=_("A launch checks the run's config against this trainer's arguments."),
    )
    max_truncated_share = forms.FloatField(
        label=_("Records allowed past cutoff_len"),
        required=False,
        min_value=0.0,
        max_value=1.0,
        initial=Project._meta.get_field("max_truncated_share").default,
        help_text=_(
            "The share (0 to 1) of the dataset's records longer than the config's cutoff_len, by the base "
            "model's tokenizer, above which a launch warns."
        ),
    )
    refuse_truncation = forms.BooleanField(
        label=_("Refuse such launches"),
        required=False,
        help_text=_("Refuse the launch instead of warning."),
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    members = forms.CharField(
        label=_("Members"), required=False, help_text=_("Usernames, separated by commas; they may launch runs.")
    )

    @classmethod
    def for_project(cls, project: Project, data: Any = None) -> ProjectForm:
        initial = {name: getattr(project, name) for name in CONFIGURABLE_FIELDS}
        initial["tags"] = ", ".join(project.tags)
        initial["members"] = ", ".join(sorted(user.get_username() for user in project.members.all()))
        form = cls(data, initial=initial)
        if task_type := TaskType.of(project.task_type):
            form.initial["task_type"] = task_type.value
        elif project.task_type:  # a name given through the API that is no task type: kept as it is
            field = cast(forms.ChoiceField, form.fields["task_type"])
            field.choices = [*TASK_TYPE_CHOICES, (project.task_type, project.task_type)]
        return form

    def clean_tags(self) -> list[str]:
        return comma_list(self.cleaned_data["tags"])

    def clean_max_truncated_share(self) -> float:
        """Left empty: the platform's default share."""
        share = self.cleaned_data["max_truncated_share"]
        return self.fields["max_truncated_share"].initial if share is None else share

    def clean_members(self) -> list[User]:
        return users_named(comma_list(self.cleaned_data["members"]))

    def service_fields(self) -> tuple[dict[str, Any], list[User]]:
        """(fields, members) as the projects services take them."""
        fields = {name: value for name, value in self.cleaned_data.items() if name != "members"}
        return fields, self.cleaned_data["members"]


# The resources the launch form has fields of its own for; the others are typed as JSON.
GPU_FIELDS = ("gpu_count", "gpu_type")


class RunForm(forms.Form):
    """What runs.services.create_run takes; empty fields fall back to the project's."""

    name = forms.CharField(label=_("Name"), required=False, max_length=200, help_text=_("Empty: run-NNN."))
    model = forms.CharField(label=_("Model"), required=False, max_length=512)
    dataset = TrainingPathField(label=_("Dataset"), required=False, max_length=1024)
    training_yaml_name = TrainingPathField(label=_("Training YAML"), required=False, max_length=1024)
    hyperparameters = JsonObjectField(
        label=_("Hyperparameter overrides"),
        required=False,
        validators=[validate_hyperparameters],
        help_text=_("Starts as the project's defaults; applied over the training YAML's values."),
    )
    gpu_count = forms.IntegerField(label=_("GPUs"), min_value=0, max_value=MAX_GPU_COUNT, initial=0)
    gpu_type = forms.CharField(label=_("GPU type"), required=False, max_length=64, help_text=_("Empty: any type."))
    resources = JsonObjectField(
        label=_("Other resources"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_("What else the run asks of its executor (memory, cpus…), as a JSON object."),
    )
    priority = forms.IntegerField(label=_("Priority"), min_value=MIN_PRIORITY, max_value=MAX_PRIORITY, initial=0)

    @classmethod
    def for_project(cls, project: Project, data: Any = None, *, clone: Run | None = None) -> RunForm:
        """The form with the project's values shown where an empty field falls back to them;
        filled with `clone`'s config, all its resources included, when a run is cloned to launch another like it."""
        initial: dict[str, Any] = {"hyperparameters": project.default_hyperparameters}
        if clone is not None:
            initial = {name: getattr(clone, name) for name in ("model", "dataset", "training_yaml_name", "priority")}
            initial["hyperparameters"] = clone.hyperparameters
            resources = clone.resources if isinstance(clone.resources, dict) else {}
            initial["gpu_count"] = gpu_request(resources)[0]
            initial["gpu_type"] = str(resources.get("gpu_type") or "")
            initial["resources"] = {key: value for key, value in resources.items() if key not in GPU_FIELDS}
        form = cls(data, initial=initial)
        for name, default in (
            ("model", project.base_model),
            ("dataset", project.dataset_name),
            ("training_yaml_name", project.training_yaml_name),
        ):
            form.fields[name].widget.attrs["placeholder"] = default
        return form

    def clean_resources(self) -> dict[str, Any]:
        resources = self.cleaned_data["resources"]
        if given := sorted(set(resources) & set(GPU_FIELDS)):
            raise forms.ValidationError(
                _("%(keys)s have fields of their own above.") % {"keys": ", ".join(given)}, code="gpu_fields"
            )
        return resources

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        gpu_type = data["gpu_type"].strip()
        resources = {
            **data["resources"],
            "gpu_count": data["gpu_count"] or 0,
            **({"gpu_type": gpu_type} if gpu_type else {}),
        }
        arguments: dict[str, Any] = {
            "name": data["name"],
            "priority": data["priority"] or 0,
            "resources": resources,
            "hyperparameters": data["hyperparameters"],
        }
        for name in ("model", "dataset", "training_yaml_name"):
            if data[name]:
                arguments[name] = data[name]
        return arguments


class RunTableFilterForm(forms.Form):
    """The runs table's search and filters (console.run_table.filtered); the creators are the project's."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200, help_text=_("In names and notes."))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *RunStatus.choices])
    tag = forms.CharField(
        label=_("Tag"), required=False, max_length=MAX_RUN_TAG_CHARS, widget=forms.TextInput(attrs={"list": "run-tags"})
    )
    creator = forms.ChoiceField(label=_("Launched by"), required=False)

    def __init__(self, data: Any, *, creators: list[str]) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["creator"]).choices = [("", _("Anyone")), *[(c, c) for c in creators]]

    def filters(self) -> dict[str, str]:
        """The filters as console.run_table.filtered takes them; none where the form is invalid."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "text": data.get("q", ""),
            "status": data.get("status", ""),
            "tag": data.get("tag", "").strip(),
            "creator": data.get("creator", ""),
        }


class RunNotesForm(forms.Form):
    """What runs.services.annotate_run takes: notes, and tags typed with commas between them."""

    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=MAX_RUN_NOTES_CHARS, widget=forms.Textarea(attrs={"rows": 3})
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))

    @classmethod
    def for_run(cls, run: Run, data: Any = None) -> RunNotesForm:
        return cls(data, initial={"notes": run.notes, "tags": ", ".join(run.tags)})

    def clean_tags(self) -> list[str]:
        return comma_list(self.cleaned_data["tags"])


class TagForm(forms.Form):
    tag = forms.ChoiceField(label=_("Tag"), choices=ArtifactTagValue.choices)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=10000)


class SharingForm(forms.Form):
    """A form for something its user will own and may share with one of their projects (projects.sharing)."""

    project = forms.ModelChoiceField(
        label=_("Share with project"),
        queryset=Project.objects.none(),
        required=False,
        empty_label=_("No project: only you and staff"),
        help_text=_("The project's creator and members will see it; only you and staff change it."),
    )

    def __init__(self, *args: Any, user: Visitor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        projects = Project.objects.visible_to(user).order_by("name")
        # `fields` holds copies of the declared fields, typed only as Field.
        cast(forms.ModelChoiceField, self.fields["project"]).queryset = projects
        self.order_fields([*(name for name in self.fields if name != "project"), "project"])


class TokenLengthsForm(forms.Form):
    """What datasets.services.measure_token_lengths takes besides the file."""

    model = forms.CharField(
        label=_("Model folder"),
        max_length=1024,
        help_text=_("Its tokenizer.json counts the tokens: relative to the training directory, else to MODELS_DIR."),
    )


class DatasetForm(SharingForm):
    """What datasets.services.create_dataset takes."""

    name = forms.CharField(label=_("Name"), max_length=200)
    task_type = forms.ChoiceField(label=_("Task type"), choices=TaskType.choices)
    type = forms.CharField(
        label=_("Kind of data"), required=False, max_length=64, help_text=_("Free text, e.g. text2text.")
    )
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ConfigUploadForm(SharingForm):
    """The fields beside the YAML file itself (which streams in through datasets.uploads)."""

    task_type = forms.ChoiceField(
        label=_("Task type"),
        required=False,
        choices=[("", _("From the YAML")), *TaskType.choices],
        help_text=_("Only for a YAML that neither declares nor implies one."),
    )
    current = forms.BooleanField(label=_("Make it the current config"), required=False, initial=True)


class DeploymentForm(SharingForm):
    """What deployments.services.create_deployment takes; the GPU picker lists this host's GPUs."""

    model_path = forms.CharField(
        label=_("Model folder"), required=False, max_length=1024, help_text=_("Relative to the models directory.")
    )
    artifact_id = forms.ChoiceField(label=_("Or a released artifact"), required=False)
    served_model_name = forms.CharField(
        label=_("Served model name"), required=False, max_length=128, help_text=_("What clients pass as `model`.")
    )
    model_version = forms.CharField(label=_("Version"), required=False, max_length=64)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    extra_args = forms.CharField(
        label=_("Extra vLLM options"),
        required=False,
        max_length=4096,
        help_text=_("Performance and serving options, e.g. --max-num-seqs 4 --dtype=half; a refusal lists them all."),
    )
    preferred_gpu = forms.TypedChoiceField(label=_("GPU"), required=False, coerce=int, empty_value=None)
    health_path = forms.CharField(label=_("Health path"), max_length=200, initial="/health")

    def __init__(self, *args: Any, gpu_rows: list, released: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gpu_rows = gpu_rows
        # `fields` holds copies of the declared fields, typed only as Field.
        cast(forms.ChoiceField, self.fields["preferred_gpu"]).choices = [
            ("", _("Any free GPU")),
            *[(row.gpu.index, row.gpu.index) for row in gpu_rows],
        ]
        cast(forms.ChoiceField, self.fields["artifact_id"]).choices = [
            ("", "—"),
            *[
                (str(artifact.pk), f"{artifact.run.project.name} / {artifact.run} / {artifact.name}")
                for artifact in released
            ],
        ]

    def clean_tags(self) -> list[str]:
        return comma_list(self.cleaned_data["tags"])

    def clean_max_truncated_share(self) -> float:
        """Left empty: the platform's default share."""
        share = self.cleaned_data["max_truncated_share"]
        return self.fields["max_truncated_share"].initial if share is None else share

    def service_arguments(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["artifact_id"] = UUID(data["artifact_id"]) if data["artifact_id"] else None
        return data


class StaffDeploymentForm(DeploymentForm):
    """The deployment form of the admin: staff may allow vLLM options beyond the policy for this one deployment."""

    allowed_extra_flags = forms.CharField(
        label=_("vLLM options allowed beyond the policy"),
        required=False,
        max_length=1024,
        help_text=_("For this deployment only, separated by spaces or commas: --trust-remote-code"),
    )

    def clean_allowed_extra_flags(self) -> list[str]:
        return self.cleaned_data["allowed_extra_flags"].replace(",", " ").split()


class DeploymentChatForm(forms.Form):
    """A test message for a running deployment (deployments.chat)."""

    prompt = forms.CharField(label=_("Message"), max_length=MAX_PROMPT_CHARS, widget=forms.Textarea(attrs={"rows": 3}))
    max_tokens = forms.IntegerField(
        label=_("Longest answer (tokens)"), min_value=1, max_value=MAX_ANSWER_TOKENS, initial=128
    )


class DeidPlaygroundForm(forms.Form):
    policy = forms.ModelChoiceField(
        label=_("Policy"),
        queryset=DeidPolicy.objects.exclude(current_version=None),
        to_field_name="name",
        empty_label=None,
    )
    text = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(
            attrs={"rows": 8, "placeholder": "客户张先生，手机号 13812345678，邮箱 zhang@example.com"}
        ),
    )
    seed = forms.IntegerField(label=_("Seed"), initial=0, min_value=MIN_SEED, max_value=MAX_SEED)
    reveal_mapping = forms.BooleanField(label=_("Show the original values"), required=False)


class DatasetDeidForm(forms.Form):
    """What deid.services.start_dataset_deidentification takes besides the dataset."""

    policy = forms.ModelChoiceField(
        label=_("Policy"),
        queryset=DeidPolicy.objects.exclude(current_version=None),
        to_field_name="name",
        empty_label=None,
    )
    seed = forms.IntegerField(
        label=_("Seed"),
        required=False,
        min_value=MIN_SEED,
        max_value=MAX_SEED,
        help_text=_("Empty: a random, secret one. An earlier job's seed gives its pseudonyms again."),
    )
    name = forms.CharField(
        label=_("New dataset name"), required=False, max_length=200, help_text=_("Empty: <name>-deid.")
    )


class MetricsQueryForm(forms.Form):
    """What a chart asks of a run's metrics: new points after `after_id`, or a step range with at most
    `max_points` per series; the CSV export's rows are paged by `limit` and `offset`."""

    after_id = forms.IntegerField(required=False, min_value=0)
    name = forms.CharField(required=False, max_length=128)
    since_step = forms.IntegerField(required=False, min_value=MIN_STEP, max_value=MAX_STEP)
    until_step = forms.IntegerField(required=False, min_value=MIN_STEP, max_value=MAX_STEP)
    max_points = forms.IntegerField(required=False, min_value=MIN_POINTS, max_value=MAX_POINTS_LIMIT)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_EXPORT_ROWS)
    offset = forms.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)

    def __init__(self, data: QueryDict) -> None:
        super().__init__(data)
        self.names = tuple(name for name in data.getlist("name") if name)

    def series_query(self) -> SeriesQuery:
        data = self.cleaned_data
        return SeriesQuery(
            names=self.names,
            since_step=data.get("since_step"),
            until_step=data.get("until_step"),
            max_points=data.get("max_points"),
        )
