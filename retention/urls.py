from django.urls import re_path

from retention.views import RetentionPolicyView

urlpatterns = [
    re_path(
        r"^projects/(?P<project_reference>[^/]+)/retention-policy$", RetentionPolicyView.as_view(), name="retention"
    )
]
