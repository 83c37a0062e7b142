from rest_framework.routers import SimpleRouter

from runs.project_views import ProjectViewSet
from runs.views import RunViewSet

router = SimpleRouter(trailing_slash=False)
router.register("projects", ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_reference>[^/]+)/runs", RunViewSet, basename="run")

urlpatterns = router.urls
