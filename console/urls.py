from django.contrib.auth import views as auth_views
from django.urls import path

from console.views import (
    audit,
    compare,
    dashboard,
    datasets,
    deid,
    deployments,
    login,
    metrics,
    projects,
    run_table,
    runs,
    sentences,
    token,
    webhooks,
)
from llmplatform import sso

app_name = "console"

run = "projects/<uuid:project_id>/runs/<uuid:run_id>/"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("queue/", dashboard.queue, name="queue"),
    path("login/", login.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Single sign-on: 404 until a provider is configured (llmplatform.sso).
    path("oidc/authenticate/", sso.AuthenticateView.as_view(), name="oidc-authenticate"),
    path("oidc/callback/", sso.CallbackView.as_view(), name="oidc-callback"),
    path("api-token/", token.api_token, name="api-token"),
    path("api-token/rotate", token.api_token_rotate, name="api-token-rotate"),
    path("translate", sentences.translate_sentences, name="translate"),
    path("projects/", projects.project_list, name="project-list"),
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<uuid:project_id>/", projects.project_detail, name="project-detail"),
    path("projects/<uuid:project_id>/edit/", projects.project_edit, name="project-edit"),
    # GET the runs table, POST a launch: one address, two names.
    path("projects/<uuid:project_id>/runs/", run_table.project_runs, name="run-list"),
    path("projects/<uuid:project_id>/runs/", run_table.project_runs, name="run-create"),
    path(run, runs.run_detail, name="run-detail"),
    path(run + "status", runs.run_status, name="run-status"),
    path(run + "logs", runs.run_logs, name="run-logs"),
    path(run + "log.txt", runs.run_log_download, name="run-log-download"),
    path(run + "metrics.json", metrics.run_metrics, name="run-metrics"),
    path(run + "metrics.csv", metrics.run_metrics_csv, name="run-metrics-csv"),
    path(run + "artifacts", runs.run_artifacts, name="run-artifacts"),
    path(run + "cancel", runs.run_cancel, name="run-cancel"),
    path(run + "resume", runs.run_resume, name="run-resume"),
    path(run + "notes", runs.run_notes, name="run-notes"),
    path(run + "artifacts/<uuid:artifact_id>/tag", runs.artifact_tag, name="artifact-tag"),
    path(run + "artifacts/<uuid:artifact_id>/", runs.artifact_files, name="artifact-files"),
    path(run + "artifacts/<uuid:artifact_id>/download", runs.artifact_download, name="artifact-download"),
    path("projects/<uuid:project_id>/webhooks/", webhooks.webhook_list, name="webhooks"),
    path(
        "projects/<uuid:project_id>/webhooks/deliveries/<uuid:delivery_id>/replay",
        webhooks.delivery_replay,
        name="delivery-replay",
    ),
    path("compare/", compare.compare_runs, name="compare"),
    path("datasets/", datasets.dataset_list, name="dataset-list"),
    path("datasets/new/", datasets.dataset_create, name="dataset-create"),
    path("datasets/<uuid:dataset_id>/", datasets.dataset_detail, name="dataset-detail"),
    path("datasets/<uuid:dataset_id>/files", datasets.dataset_files, name="dataset-files"),
    path("datasets/<uuid:dataset_id>/files/<uuid:upload_id>/", datasets.dataset_file_report, name="dataset-file"),
    path(
        "datasets/<uuid:dataset_id>/files/<uuid:upload_id>/token-lengths",
        datasets.dataset_file_token_lengths,
        name="dataset-file-token-lengths",
    ),
    path("datasets/<uuid:dataset_id>/deidentify", datasets.dataset_deidentify, name="dataset-deidentify"),
    path("datasets/<uuid:dataset_id>/deid-jobs", datasets.dataset_deid_jobs, name="dataset-deid-jobs"),
    path("configs/", datasets.config_list, name="config-list"),
    path("configs/upload", datasets.config_upload, name="config-upload"),
    path("configs/<uuid:config_id>/", datasets.config_detail, name="config-detail"),
    path("deployments/", deployments.deployment_list, name="deployment-list"),
    path("deployments/new/", deployments.deployment_create, name="deployment-create"),
    path("deployments/<uuid:deployment_id>/", deployments.deployment_detail, name="deployment-detail"),
    path("deployments/<uuid:deployment_id>/status", deployments.deployment_status, name="deployment-status"),
    path("deployments/<uuid:deployment_id>/logs", deployments.deployment_logs, name="deployment-logs"),
    path("deployments/<uuid:deployment_id>/stop", deployments.deployment_stop, name="deployment-stop"),
    path("deployments/<uuid:deployment_id>/chat", deployments.deployment_chat, name="deployment-chat"),
    path("deid/", deid.playground, name="deid"),
    path("audit/", audit.audit_log, name="audit"),
]
