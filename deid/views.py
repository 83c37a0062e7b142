from __future__ import annotations

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from datasets.models import Dataset
from deid import services
from deid.models import DeidJob, DeidPolicy
from deid.serializers import (
    DatasetDeidentifyRequestSerializer,
    DeidJobSerializer,
    DeidPolicySerializer,
    DeidPolicyVersionSerializer,
    DeidRequestSerializer,
    DeidResponseSerializer,
)
from llmplatform.api import PAGED, paged_response
from llmplatform.errors import NotFound

DEID_TAG = "de-identification"
NO_POLICY = OpenApiResponse(description="No such de-identification policy.")


def policy_or_404(policy_id: str) -> DeidPolicy:
    policy = DeidPolicy.objects.select_related("current_version").filter(name=policy_id).first()
    if policy is None:
        raise NotFound(
            format_lazy(_("No de-identification policy {policy_id!r}."), policy_id=policy_id), policy_id=policy_id
        )
    return policy


@extend_schema_view(post=extend_schema(tags=[DEID_TAG], summary="Scrub a few texts with a policy and see the result"))
class DeidentifyTestView(APIView):
    """`POST /v1/deidentify:test`: scrub a few texts with a policy and see the result."""

    @extend_schema(
        request=DeidRequestSerializer,
        responses={
            200: DeidResponseSerializer,
            403: OpenApiResponse(description="`return_mapping` needs the deid.view_pii_mapping permission."),
            404: NO_POLICY,
            413: OpenApiResponse(description="More than DEID_MAX_TEXTS texts or DEID_MAX_REQUEST_BYTES of text."),
        },
        operation_id="deidentify_test",
    )
    def post(self, request: Request) -> Response:
        serializer = DeidRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        options = data["options"]
        if options["return_mapping"]:
            services.check_may_reveal_mapping(request.user)  # before the policy is looked up, as always
        policy = policy_or_404(data["policy_id"])
        outcome = services.deidentify_texts(
            policy=policy,
            texts=data["text"],
            seed=options["seed"],
            text_format=options["format"],
            locale=options["locale"],
            reveal_mapping=options["return_mapping"],
            actor=request.user,
        )
        body: dict = {"deidentified": outcome.deidentified}
        if options["return_mapping"]:
            body["mapping"] = [
                {
                    "type": r.type,
                    "original": r.original,
                    "pseudo": r.replacement,
                    "text_index": index,
                    "start": r.start,
                    "end": r.end,
                    "score": round(r.score, 3),
                }
                for index, found in enumerate(outcome.replacements)
                for r in found
            ]
        body["policy_version"] = outcome.policy_version
        body["counts"] = outcome.counts
        return Response(body)


class PolicyPermission(permissions.BasePermission):
    """Anyone signed in reads policies; staff, or holders of the model permissions, change them."""

    ACTION_PERMS = {"POST": "deid.add_deidpolicy", "DELETE": "deid.delete_deidpolicy"}

    def has_permission(self, request: Request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or request.user.is_staff:
            return True
        return request.user.has_perm(self.ACTION_PERMS.get(request.method or "", "deid.change_deidpolicy"))


@extend_schema_view(
    list=extend_schema(tags=[DEID_TAG], summary="List de-identification policies", parameters=PAGED),
    create=extend_schema(tags=[DEID_TAG], summary="Create a policy (staff, or with the permission to add policies)"),
    retrieve=extend_schema(tags=[DEID_TAG], summary="Get a policy with its current rules"),
    update=extend_schema(tags=[DEID_TAG], summary="Replace a policy's rules: a new version"),
    partial_update=extend_schema(tags=[DEID_TAG], summary="Change some of a policy's rules: a new version"),
    destroy=extend_schema(
        tags=[DEID_TAG],
        summary="Delete a policy",
        responses={204: None, 404: NO_POLICY, 409: OpenApiResponse(description="The default policy stays.")},
    ),
    versions=extend_schema(tags=[DEID_TAG], summary="List a policy's versions, newest first"),
)
class DeidPolicyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """`/v1/deid-policies`: every change to the rules makes a new immutable version."""

    serializer_class = DeidPolicySerializer
    permission_classes = [PolicyPermission]
    lookup_url_kwarg = "policy_id"
    queryset = DeidPolicy.objects.select_related("current_version")

    def get_object(self) -> DeidPolicy:
        return policy_or_404(self.kwargs["policy_id"])

    def perform_create(self, serializer: BaseSerializer[DeidPolicy]) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_policy(
            name=data["name"], description=data.get("description", ""), config=data["config"], actor=self.request.user
        )

    def perform_update(self, serializer: BaseSerializer[DeidPolicy]) -> None:
        data = serializer.validated_data
        policy = serializer.instance
        assert policy is not None  # update() made the serializer on the policy
        serializer.instance = services.update_policy(
            policy=policy,
            config=data.get("config"),
            description=data.get("description"),
            actor=self.request.user,
        )

    def perform_destroy(self, instance: DeidPolicy) -> None:
        services.delete_policy(policy=instance, actor=self.request.user)

    @extend_schema(parameters=PAGED, responses={200: DeidPolicyVersionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, policy_id: str) -> Response:
        """Every version of the policy, newest first."""
        policy = self.get_object()
        page = self.paginate_queryset(policy.versions.select_related("created_by").order_by("-number"))
        return self.get_paginated_response(DeidPolicyVersionSerializer(page, many=True).data)


def job_body(request: Request, job: DeidJob) -> dict:
    return DeidJobSerializer(job, context={"request": request}).data


@extend_schema_view(
    post=extend_schema(tags=[DEID_TAG], summary="Start a job writing a de-identified copy of a dataset"),
    get=extend_schema(tags=[DEID_TAG], summary="List a dataset's de-identification jobs"),
)
class DatasetDeidentifyView(APIView):
    """`/v1/datasets/{id}/deidentify`: POST starts a job writing a scrubbed copy of every
    file into a new dataset derived from this one (the source is never modified); GET
    lists this dataset's jobs, newest first."""

    def _dataset(self, request: Request, dataset_id) -> Dataset:
        dataset = Dataset.objects.visible_to(request.user).filter(pk=dataset_id).first()
        if dataset is None:
            raise NotFound(format_lazy(_("No dataset {dataset_id}."), dataset_id=dataset_id))
        return dataset

    @extend_schema(
        request=DatasetDeidentifyRequestSerializer,
        responses={
            202: DeidJobSerializer,
            403: OpenApiResponse(description="Only the dataset's owner and staff de-identify it."),
            404: OpenApiResponse(description="No such dataset visible to you, or no such policy."),
            409: OpenApiResponse(description="The dataset has no stored file to de-identify."),
        },
        operation_id="dataset_deidentify",
    )
    def post(self, request: Request, dataset_id) -> Response:
        dataset = self._dataset(request, dataset_id)
        serializer = DatasetDeidentifyRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        policy = policy_or_404(data["policy_id"])
        job = services.start_dataset_deidentification(
            dataset=dataset, policy=policy, seed=data.get("seed"), name=data.get("name", ""), actor=request.user
        )
        return Response(job_body(request, job), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=PAGED,
        responses={
            200: DeidJobSerializer(many=True),
            404: OpenApiResponse(description="No such dataset visible to you."),
        },
        operation_id="dataset_deidentify_jobs",
    )
    def get(self, request: Request, dataset_id) -> Response:
        dataset = self._dataset(request, dataset_id)
        jobs = DeidJob.objects.visible_to(request.user).filter(source=dataset).select_related("source", "target")
        return paged_response(request, jobs.order_by("-created_at", "-id"), DeidJobSerializer)


@extend_schema_view(get=extend_schema(tags=[DEID_TAG], summary="Get a de-identification job's progress"))
class DeidJobView(APIView):
    """`GET /v1/deid-jobs/{id}`: a job's status, progress and counts per entity type."""

    @extend_schema(
        responses={200: DeidJobSerializer, 404: OpenApiResponse(description="No such job visible to you.")},
        operation_id="deid_job",
    )
    def get(self, request: Request, job_id) -> Response:
        job = DeidJob.objects.visible_to(request.user).select_related("source", "target").filter(pk=job_id).first()
        if job is None:
            raise NotFound(format_lazy(_("No de-identification job {job_id}."), job_id=job_id))
        return Response(job_body(request, job))
