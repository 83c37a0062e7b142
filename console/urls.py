from django.contrib.auth import views as auth_views
from django.urls import path

from console.views import audit, compare, dashboard, projects, runs

app_name = "console"

run = "projects/<uuid:project_id>/runs/<uuid:run_id>/"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", projects.project_list, name="project-list"),
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<uuid:project_id>/", projects.project_detail, name="project-detail"),
    path("projects/<uuid:project_id>/edit/", projects.project_edit, name="project-edit"),
    path("projects/<uuid:project_id>/runs/", projects.run_create, name="run-create"),
    path(run, runs.run_detail, name="run-detail"),
    path(run + "status", runs.run_status, name="run-status"),
    path(run + "logs", runs.run_logs, name="run-logs"),
    path(run + "log.txt", runs.run_log_download, name="run-log-download"),
    path(run + "metrics.json", runs.run_metrics, name="run-metrics"),
    path(run + "artifacts", runs.run_artifacts, name="run-artifacts"),
    path(run + "cancel", runs.run_cancel, name="run-cancel"),
    path(run + "resume", runs.run_resume, name="run-resume"),
    path(run + "artifacts/<uuid:artifact_id>/tag", runs.artifact_tag, name="artifact-tag"),
    path("compare/", compare.compare_runs, name="compare"),
    path("audit/", audit.audit_log, name="audit"),
]
