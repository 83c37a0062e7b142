from django.urls import path

from audit.views import AuditEventListView

urlpatterns = [
    path("v1/audit-events", AuditEventListView.as_view(), name="audit-events"),
]
