from rest_framework.routers import SimpleRouter

from runs.views import RunViewSet

router = SimpleRouter(trailing_slash=False)
router.register(r"projects/(?P<project_reference>[^/]+)/runs", RunViewSet, basename="run")

urlpatterns = router.urls
