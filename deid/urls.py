from django.urls import path
from rest_framework.routers import SimpleRouter

from deid import views

router = SimpleRouter(trailing_slash=False)
router.register("v1/deid-policies", views.DeidPolicyViewSet, basename="deid-policy")

urlpatterns = [
    # The contract's path has a colon (Google-style custom method); Django matches it literally.
    path("v1/deidentify:test", views.DeidentifyTestView.as_view(), name="deidentify-test"),
    path("v1/datasets/<uuid:dataset_id>/deidentify", views.DatasetDeidentifyView.as_view(), name="dataset-deidentify"),
    path("v1/deid-jobs/<uuid:job_id>", views.DeidJobView.as_view(), name="deid-job"),
    *router.urls,
]
