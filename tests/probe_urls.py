"""The platform's URLs plus probe views, to exercise the API conventions before
(and independently of) the domain endpoints that other apps add."""

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from llmplatform import errors
from llmplatform.urls import urlpatterns as platform_urlpatterns


class ProbeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)
    count = serializers.IntegerField(min_value=0)


class EchoView(APIView):
    def post(self, request: Request) -> Response:
        serializer = ProbeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class BrokenView(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug")


class RefusingView(APIView):
    """Refuses with the `llmplatform.errors` class named in the path, as a service would."""

    def post(self, request: Request, refusal: str) -> Response:
        raise getattr(errors, refusal)("Refused for the probe.", refusal=refusal)


urlpatterns = [
    path("probe/echo", EchoView.as_view()),
    path("probe/broken", BrokenView.as_view()),
    path("probe/refuse/<str:refusal>", RefusingView.as_view()),
    *platform_urlpatterns,
]
