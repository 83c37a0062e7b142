from __future__ import annotations

import json

from rest_framework import serializers

from deid import services
from deid.engine import OPERATORS, PolicyConfig
from deid.entities import ALL_ENTITY_TYPES, DEFAULT_LOCALE, LOCALES, parse_locale
from deid.models import MAX_SEED, MIN_SEED, DeidJob, DeidPolicy, duplicate_policy_message
from deid.services import TextFormat


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a string of digits, a float or a boolean."""

    default_error_messages = {"invalid": "A valid integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string: a number is not silently turned into one."""

    default_error_messages = {"invalid": "Not a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextListField(serializers.ListField):
    """The texts of one request, within DEID_MAX_TEXTS items and DEID_MAX_REQUEST_BYTES (413)."""

    def __init__(self, **kwargs):
        super().__init__(child=StrictCharField(allow_blank=True, trim_whitespace=False), allow_empty=False, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list):
            services.check_text_count(len(data))  # before reading the items, however many there are
        texts = super().to_internal_value(data)
        services.check_text_size(texts)
        return texts


class DeidOptionsSerializer(serializers.Serializer):
    locale = serializers.CharField(
        max_length=35,
        default=DEFAULT_LOCALE,
        help_text=(
            f"Which recognisers of person names, addresses and organisations run: {', '.join(LOCALES)} "
            f"(default {DEFAULT_LOCALE}); a zh-* or en-* tag counts as its language. zh-CN: Chinese names, "
            "addresses and organisations; en: English names; both: all of them. Numbers, e-mails, URLs and the "
            "other structured types are found in every locale."
        ),
    )
    format = serializers.ChoiceField(
        choices=[TextFormat.TEXT, TextFormat.JSON],
        default=TextFormat.TEXT,
        help_text="text: each item is plain text; json: each item is a JSON document whose string values are scrubbed.",
    )
    return_mapping = StrictBooleanField(
        default=False, help_text="Return original → pseudonym pairs; needs the deid.view_pii_mapping permission."
    )
    seed = StrictIntegerField(
        default=0,
        min_value=MIN_SEED,
        max_value=MAX_SEED,
        help_text="Same seed and input give the same output; a different seed gives other pseudonyms.",
    )

    def validate_locale(self, value: str) -> str:
        try:
            return parse_locale(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class DeidRequestSerializer(serializers.Serializer):
    policy_id = serializers.CharField(max_length=64, default="default")
    text = TextListField(help_text="Texts to scrub (strings).")
    options = DeidOptionsSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        attrs["options"] = attrs.get("options") or DeidOptionsSerializer(data={}).run_validation({})
        if attrs["options"]["format"] == TextFormat.JSON:
            bad = []
            for index, item in enumerate(attrs["text"]):
                try:
                    json.loads(item)
                except (ValueError, RecursionError):
                    bad.append(index)
            if bad:
                raise serializers.ValidationError({"text": f"Items {bad[:20]} are not valid JSON documents."})
        return attrs


class DeidMappingEntrySerializer(serializers.Serializer):
    type = serializers.CharField()
    original = serializers.CharField()
    pseudo = serializers.CharField()
    text_index = serializers.IntegerField(help_text="Which input text it was found in.")
    start = serializers.IntegerField(help_text="Offset of the original in its text (format text only).")
    end = serializers.IntegerField()
    score = serializers.FloatField()


class DeidResponseSerializer(serializers.Serializer):
    deidentified = serializers.ListField(child=serializers.CharField())
    mapping = DeidMappingEntrySerializer(many=True, required=False, help_text="Only when return_mapping is true.")
    policy_version = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Replacements per entity type.")


class DeidPolicySerializer(serializers.ModelSerializer):
    """A policy with its current rules. Writing `entities`, `min_score` or `mask_char`
    creates a new version; `policy_version` names the one in force."""

    id = serializers.SlugField(source="name", max_length=64, help_text="The policy_id clients send.")
    policy_version = serializers.CharField(source="current_version.label", read_only=True)
    entities = serializers.DictField(
        child=serializers.ChoiceField(choices=OPERATORS),
        required=False,
        help_text=f"Entity type → operator. Types: {', '.join(ALL_ENTITY_TYPES)}. Absent types are not looked for.",
    )
    min_score = serializers.FloatField(required=False, min_value=0, max_value=1)
    mask_char = serializers.CharField(required=False, min_length=1, max_length=1, trim_whitespace=False)

    class Meta:
        model = DeidPolicy
        fields = [
            "id",
            "description",
            "policy_version",
            "entities",
            "min_score",
            "mask_char",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def to_representation(self, instance: DeidPolicy) -> dict:
        data = super().to_representation(instance)
        data.update(instance.current.config)
        return data

    def validate_id(self, name: str) -> str:
        if self.instance is not None and name != self.instance.name:
            raise serializers.ValidationError("A policy's id cannot change.")
        if self.instance is None and DeidPolicy.objects.filter(name=name).exists():
            raise serializers.ValidationError(duplicate_policy_message(name))
        return name

    def validate(self, attrs: dict) -> dict:
        rule_fields = {"entities", "min_score", "mask_char"}
        if rule_fields & attrs.keys() or self.instance is None:
            current = self.instance.current.config if self.instance else PolicyConfig.default().to_dict()
            merged = {**current, **{key: attrs[key] for key in rule_fields & attrs.keys()}}
            try:
                attrs["config"] = PolicyConfig.from_dict(merged)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return attrs


class DeidPolicyVersionSerializer(serializers.Serializer):
    policy_version = serializers.CharField(source="label")
    number = serializers.IntegerField()
    config = serializers.JSONField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", default=None)


class DatasetDeidentifyRequestSerializer(serializers.Serializer):
    policy_id = serializers.CharField(max_length=64, default="default")
    seed = StrictIntegerField(
        required=False,
        min_value=MIN_SEED,
        max_value=MAX_SEED,
        help_text=(
            "Pseudonyms follow from the policy and the seed. Leave it out for a random one (anyone who knows "
            "it can check a guessed original against a pseudonym); give an earlier job's to get its pseudonyms."
        ),
    )
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="The new dataset's name (default: <source>-deid)."
    )


class DeidJobSerializer(serializers.ModelSerializer):
    """A job; its `seed` only for holders of the deid.view_pii_mapping permission (the context's request user)."""

    source_dataset_id = serializers.UUIDField(source="source.pk", read_only=True, default=None)
    target_dataset_id = serializers.UUIDField(source="target.pk", read_only=True, default=None)
    policy_id = serializers.CharField(source="policy_name", read_only=True)
    policy_version = serializers.CharField(source="policy_version_label", read_only=True)
    progress = serializers.FloatField(read_only=True, help_text="0..1, by bytes read.")
    seed = serializers.IntegerField(
        read_only=True, required=False, help_text="Only for holders of the deid.view_pii_mapping permission."
    )

    class Meta:
        model = DeidJob
        fields = [
            "id",
            "status",
            "progress",
            "source_dataset_id",
            "target_dataset_id",
            "target_name",
            "policy_id",
            "policy_version",
            "seed",
            "total_bytes",
            "processed_bytes",
            "lines",
            "counts",
            "files",
            "error_count",
            "errors",
            "detail",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def to_representation(self, job: DeidJob) -> dict:
        data = super().to_representation(job)
        request = self.context.get("request")
        if not services.may_reveal_mapping(request.user if request else None):
            del data["seed"]
        return data
