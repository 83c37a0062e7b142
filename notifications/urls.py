from rest_framework.routers import SimpleRouter

from notifications.views import WebhookViewSet

router = SimpleRouter(trailing_slash=False)
router.register(r"projects/(?P<project_reference>[^/]+)/webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
