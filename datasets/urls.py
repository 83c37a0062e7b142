"""Paths of the contract's "Datasets and uploads" and "Training configuration" sections."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from datasets import views

router = SimpleRouter(trailing_slash=False)
router.register("v1/datasets", views.DatasetViewSet, basename="dataset")
router.register("v1/train-configs", views.TrainConfigViewSet, basename="train-config-record")

urlpatterns = [
    path("v1/uploads/<uuid:upload_id>", views.UploadView.as_view(), name="upload"),
    path("v1/uploads/<uuid:upload_id>/finish", views.UploadFinishView.as_view(), name="upload-finish"),
    path("v1/train-config", views.CurrentTrainConfigView.as_view(), name="train-config"),
    *router.urls,
]
