"""Settings for the LLM training platform.

Every knob comes from an environment variable with a safe default, so a fresh
checkout runs with no configuration file at all. Each one is documented in the
README's "Settings" table; keep the two in step.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value.strip() else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


TESTING = "pytest" in sys.modules or env_bool("LLMP_TESTING", False)

# --- core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string, or set DEBUG=1 for a "
            "development server with a throwaway key."
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 (DEBUG or tests only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# --- HTTPS ------------------------------------------------------------------
# Off by default, so that scripts/start serves http://127.0.0.1 as it is. HTTPS=1 says people
# reach the platform over HTTPS only: cookies are sent over HTTPS only, http:// is redirected
# (except the health probes, which load balancers and monitors send over plain HTTP), and
# browsers are told by HSTS to use nothing else.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^_internal/health$"]
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
# Behind a proxy that ends TLS, the header by which it says the client used HTTPS (its value
# must then be `https`), e.g. X-Forwarded-Proto. Set it only when the proxy always sets the
# header and drops any a client sent: whoever can set it decides what counts as HTTPS.
PROXY_SSL_HEADER = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
if PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + PROXY_SSL_HEADER.upper().replace("-", "_"), "https")

DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# The host that launched a local run; only its supervisor watches that run.
HOSTNAME = os.environ.get("LLMP_HOSTNAME", socket.gethostname())

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "llmplatform.packages.AxesConfig",  # django-axes, named in the reader's language
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "llmplatform.packages.DjangoQConfig",  # django-q2, named in the reader's language
    "django_htmx",
    "llmplatform",
    "audit",
    "gpus",
    "projects",
    "runs",
    "datasets",
    "deployments",
    "deid",
    "monitoring",
    "notifications",
    "retention",
    "console",
]

MIDDLEWARE = [
    # First, so that its request latency counts every other middleware too.
    "monitoring.requests.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "llmplatform.csp.ContentSecurityPolicyMiddleware",
    "llmplatform.middleware.JsonApiMiddleware",
    "llmplatform.middleware.NulCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "llmplatform.bodies.BodyLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audit.middleware.AuditContextMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "llmplatform.urls"
WSGI_APPLICATION = "llmplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------
# Unset: a SQLite file under DATA_DIR. postgres://...: PostgreSQL through psycopg 3.
DATABASE_URL = os.environ.get("DATABASE_URL", "")


def sqlite_database(path: Path) -> dict[str, Any]:
    """A SQLite file shared by the web server, workers and supervisors (and by test
    subprocesses: its test database is a file too, `test_<name>` beside it)."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "TEST": {"NAME": path.with_name(f"test_{path.name}")},
        # Opening a connection and running its PRAGMAs cost more than a query: keep
        # each worker's connection between requests.
        "CONN_MAX_AGE": 600,
        # Several processes write at once: wait for the lock instead of failing,
        # and let readers run beside the writer (WAL).
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


# SQLite's settings name Path objects, so they are not dj_database_url's DBConfig.
DATABASES: dict[str, Mapping[str, Any]]
if DATABASE_URL.startswith("sqlite:"):
    DATABASES = {"default": sqlite_database(Path(dj_database_url.parse(DATABASE_URL)["NAME"]))}
elif DATABASE_URL:
    postgresql = dj_database_url.parse(DATABASE_URL, conn_max_age=60)
    # The API's compiled reads (llmplatform.prepared), the only statements bound on the server, are
    # prepared on a connection from their fifth execution (psycopg's default threshold) and then skip
    # PostgreSQL's parsing and planning. Off (DATABASE_PREPARED_STATEMENTS=0) behind a pooler that
    # hands one session's statements to another (PgBouncer's transaction mode before 1.21).
    postgresql["OPTIONS"] = {
        "prepare_threshold": 5 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
        **postgresql.get("OPTIONS", {}),
    }
    DATABASES = {"default": postgresql}
else:
    DATABASES = {"default": sqlite_database(DATA_DIR / "llmplatform.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth, i18n, static -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Wrong passwords and tokens (llmplatform.authentication): a password login is refused for one
# username from one address after LOGIN_FAILURE_LIMIT failures, until LOGIN_LOCKOUT_MINUTES have
# passed since the last; refusals do not extend it, a successful login clears the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("LOGIN_LOCKOUT_MINUTES", 15.0))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "llmplatform.authentication.client_ip"
AXES_LOCKOUT_CALLABLE = "console.views.login.locked_out"
# Successful logins are not kept (a table nothing would ever empty); failures are, until they expire.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py command; failures are still logged
# Reverse proxies in front of the platform that append the client's address to X-Forwarded-For;
# 0 trusts no such header (a client could write any address into it).
PROXY_COUNT = env_int("PROXY_COUNT", 0)
# Wrong tokens one address may send, as DRF writes a rate: `<count>/<s|min|hour|day>`.
TOKEN_FAILURE_RATE = os.environ.get("TOKEN_FAILURE_RATE", "20/min")
if not re.fullmatch(r"\d+/[smhd][a-z]*", TOKEN_FAILURE_RATE):
    raise ImproperlyConfigured(f"TOKEN_FAILURE_RATE must be like 20/min or 100/hour, got {TOKEN_FAILURE_RATE!r}")
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"
LOGOUT_REDIRECT_URL = "console:login"

# --- single sign-on (OpenID Connect, llmplatform.sso) -------------------------
# Off until a client id is set; then the endpoints are required (the provider's discovery
# document, <issuer>/.well-known/openid-configuration, lists them) and the login page offers
# "Sign in with OIDC_PROVIDER_NAME" beside the password form, which keeps working.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
# When set, an ID token's `iss` must be exactly this.
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT_SECONDS", 10.0)
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "") or "SSO"
# Which claims name the user, their e-mail address and their groups.
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_EMAIL_CLAIM = os.environ.get("OIDC_EMAIL_CLAIM", "email")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
# Groups of that claim: one of OIDC_REQUIRED_GROUPS to sign in at all (empty: anyone the provider
# signs in); OIDC_STAFF_GROUPS makes staff; OIDC_OPERATOR_GROUPS makes staff in the `operators` group.
OIDC_REQUIRED_GROUPS = env_list("OIDC_REQUIRED_GROUPS", "")
OIDC_STAFF_GROUPS = env_list("OIDC_STAFF_GROUPS", "")
OIDC_OPERATOR_GROUPS = env_list("OIDC_OPERATOR_GROUPS", "")
OIDC_AUTHENTICATE_CLASS = "llmplatform.sso.AuthenticateView"
OIDC_CALLBACK_CLASS = "llmplatform.sso.CallbackView"
OIDC_AUTHENTICATION_CALLBACK_URL = "console:oidc-callback"
if OIDC_ENABLED:
    missing = [
        name
        for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT")
        if not os.environ.get(name)
    ]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")) and not OIDC_OP_JWKS_ENDPOINT:
        missing.append("OIDC_OP_JWKS_ENDPOINT")
    if missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set, so single sign-on needs {', '.join(missing)} too.")
    AUTHENTICATION_BACKENDS.append("llmplatform.sso.PlatformOIDCBackend")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
# The platform's messages (made by `make messages`), then the translations of installed packages' own
# messages that their catalogs lack (written by hand, see its README).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_packages"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# Files browsers ask for at the site's root (/favicon.ico), served by whitenoise as they are.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "llmplatform.authentication.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "NUM_PROXIES": PROXY_COUNT,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "llmplatform.parsers.StrictJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "llmplatform.schema.PlatformAutoSchema",
    # Every list is paged, bounded by default (see llmplatform.api).
    "DEFAULT_PAGINATION_CLASS": "llmplatform.api.HeaderLimitOffsetPagination",
    "EXCEPTION_HANDLER": "llmplatform.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "LLM training platform",
    "DESCRIPTION": (
        "Register training projects, upload datasets and configs, launch and watch "
        "training runs, keep checkpoints, serve models with vLLM and scrub personal data. "
        "Authenticate scripts with `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Enum components as drf-spectacular makes them, then links between operations (llmplatform.schema).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "llmplatform.schema.add_links"],
    # Runs and projects both have an `executor` field of these choices: one component name.
    "ENUM_NAME_OVERRIDES": {"ExecutorKindEnum": "projects.models.ExecutorKind"},
}

# Request bodies outside the upload endpoints: at most this, held in memory, whatever their
# type (llmplatform.bodies); the upload endpoints set their own handlers and limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_JSON_BODY_BYTES", 10 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["llmplatform.bodies.BoundedMemoryUploadHandler"]

# --- background work (django-q2) --------------------------------------------
# retry > timeout, or the ORM broker hands a long task out twice; failed tasks are
# acknowledged and tried at most twice instead of forever.
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER: dict[str, Any] = {
    "name": "llmplatform",
    # Up to two workers are taken by the supervision loops (runs while any is queued or
    # running, deployments while any is live; llmplatform.supervision); the others
    # validate uploads and de-identify datasets.
    "workers": env_int("Q_WORKERS", 4),
    "timeout": env_int("Q_TIMEOUT", 3600),
    "retry": env_int("Q_TIMEOUT", 3600) + 600,
    "max_attempts": 2,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    # A worker validating a big dataset file forks processes for its pieces; daemonic
    # processes may not have children. Workers are still stopped by the cluster itself.
    "daemonize_workers": False,
    "sync": TESTING,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# Each host's workers also take the tasks queued for that host alone (llmplatform.queues).
Q_CLUSTER["broker_class"] = "llmplatform.queues.Redis" if REDIS_URL else "llmplatform.queues.ORM"
# django-q2 keeps its cluster heartbeats in the cache, so the cache must be shared by
# the web server and the workers: Redis when configured, else files under DATA_DIR.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }
# A cluster heartbeat older than this makes /healthz report the worker as down.
Q_HEARTBEAT_MAX_AGE_S = env_int("Q_HEARTBEAT_MAX_AGE_S", 120)
HEALTH_MIN_FREE_BYTES = env_int("HEALTH_MIN_FREE_BYTES", 1024 * 1024 * 1024)

# --- training (defaults: the layout of the existing training servers) -------
HOST_TRAINING_DIR = Path(os.environ.get("HOST_TRAINING_DIR", "/data1/qwen2.5-14bxxxx"))
DOCKER_CONTAINER_NAME = os.environ.get("DOCKER_CONTAINER_NAME", "qwen2.5-14b-instruct_xpytorch_full_sft")
DOCKER_WORKING_DIR = os.environ.get("DOCKER_WORKING_DIR", "KTIP_Release_2.1.0/train/llm")
# Where HOST_TRAINING_DIR is mounted inside the training container (same path when unset).
DOCKER_TRAINING_DIR = os.environ.get("DOCKER_TRAINING_DIR", "") or str(HOST_TRAINING_DIR)
TRAINING_COMMAND = os.environ.get("TRAINING_COMMAND", "bash run_train_full_sft.sh {training_yaml}")
MAX_SMALL_FILE_BYTES = env_int("MAX_SMALL_FILE_BYTES", 50 * 1024 * 1024)
MAX_YAML_BYTES = env_int("MAX_YAML_BYTES", 256 * 1024)

# Where each run keeps its effective config, log file and output folder.
RUNS_DIR = Path(os.environ.get("RUNS_DIR", DATA_DIR / "runs")).resolve()
DEFAULT_EXECUTOR = os.environ.get("DEFAULT_EXECUTOR", "local")
CANCEL_GRACE_SECONDS = env_float("CANCEL_GRACE_SECONDS", 30.0)
SUPERVISOR_INTERVAL_SECONDS = env_float("SUPERVISOR_INTERVAL_SECONDS", 0.5)
# The highest priority people other than staff may give a run, in a project whose
# max_priority staff left blank (runs.scheduling: higher priorities hold GPUs back from lower ones).
DEFAULT_MAX_PRIORITY = env_int("DEFAULT_MAX_PRIORITY", 0)
# After queuing this long, a run waiting for GPUs holds them back from later runs of other
# projects too, not only of its own (runs.scheduling): big runs are not starved for ever.
GPU_RESERVATION_AFTER_SECONDS = env_float("GPU_RESERVATION_AFTER_SECONDS", 3600.0)
# Most queued runs one dispatch pass starts (runs.scheduling); the rest start in the passes after it, a
# supervisor tick apart. Each start is a process, a container or a Slurm job: a pass that started every run
# a freed cluster could take would hold up watching the running ones meanwhile.
DISPATCH_STARTS_PER_PASS = env_int("DISPATCH_STARTS_PER_PASS", 8)
if DISPATCH_STARTS_PER_PASS < 1:
    raise ImproperlyConfigured(f"DISPATCH_STARTS_PER_PASS must be at least 1, got {DISPATCH_STARTS_PER_PASS}")
# Stall detection (runs.healing): a run whose project sets no stall_after_seconds is stalled after
# ten times its median step time without a step, never sooner than this floor (model loading and
# evaluation are slow steps); CPU time is judged over this window; a stack dump may take this long.
STALL_AFTER_FLOOR_SECONDS = env_float("STALL_AFTER_FLOOR_SECONDS", 300.0)
STALL_CPU_WINDOW_SECONDS = env_float("STALL_CPU_WINDOW_SECONDS", 5.0)
STACK_DUMP_TIMEOUT_SECONDS = env_float("STACK_DUMP_TIMEOUT_SECONDS", 20.0)
# Every supervision loop (llmplatform.supervision) and every run a loop watches is held by a
# lease of this length; a holder on another host that stops renewing it is replaced after it.
SUPERVISOR_LEASE_SECONDS = env_float("SUPERVISOR_LEASE_SECONDS", 30.0)
# How long one django-q2 supervision task loops before queuing its successor. Short, because
# qcluster waits for running tasks on SIGTERM: stopping it waits out the current slice
# (scripts/start gives it 20 s before SIGKILL).
SUPERVISOR_TASK_SECONDS = env_float("SUPERVISOR_TASK_SECONDS", 15.0)
# OpenAPI component names for the project and run status enums (both have a `status` field).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {"ProjectStatusEnum": "projects.models.ProjectStatus", "RunStatusEnum": "runs.models.RunStatus"}
)

# --- GPUs (one ledger shared by runs and deployments) -----------------------
# Unset: ask NVML. Else (tests): "0,1", or with models for runs' gpu_type: "0:NVIDIA A100-SXM4-80GB,1:NVIDIA L4".
GPU_IDS = os.environ.get("GPU_IDS", "")

# --- deployments ------------------------------------------------------------
# Deployable model folders; a deployment's `model_path` is relative to it (and an adapter's base model).
MODELS_DIR = Path(os.environ.get("MODELS_DIR", DATA_DIR / "models")).resolve()
# Each model server's output goes to <DEPLOY_LOG_DIR>/<deployment_id>.log (and its exit code beside it).
DEPLOY_LOG_DIR = Path(os.environ.get("DEPLOY_LOG_DIR", DATA_DIR / "deploy_logs")).resolve()
# The server's command line, split with shlex; placeholders {model_path} {port} {name} {gpu_id}.
VLLM_COMMAND = os.environ.get(
    "VLLM_COMMAND",
    "vllm serve {model_path} --host 127.0.0.1 --port {port} --served-model-name {name}",
)
# Ports handed to model servers, "low-high" inclusive; each is also checked free by binding it.
DEPLOY_PORT_RANGE = os.environ.get("DEPLOY_PORT_RANGE", "8200-8299")
# Seconds a stopped server gets between SIGTERM and (with force) SIGKILL of its process group.
DEPLOY_STOP_GRACE_SECONDS = env_float("DEPLOY_STOP_GRACE_SECONDS", 20.0)
# Seconds between two health probes of a deployment, and how long one probe may take.
DEPLOY_PROBE_INTERVAL_SECONDS = env_float("DEPLOY_PROBE_INTERVAL_SECONDS", 5.0)
DEPLOY_PROBE_TIMEOUT_SECONDS = env_float("DEPLOY_PROBE_TIMEOUT_SECONDS", 3.0)
# A running deployment becomes `unhealthy` after this many failed probes in a row.
DEPLOY_UNHEALTHY_AFTER_FAILED_PROBES = env_int("DEPLOY_UNHEALTHY_AFTER_FAILED_PROBES", 3)
# A deployment still loading its model after this long is marked `unhealthy`.
DEPLOY_STARTUP_TIMEOUT_SECONDS = env_float("DEPLOY_STARTUP_TIMEOUT_SECONDS", 1800.0)

# --- monitoring -------------------------------------------------------------
# /metrics answers a scraper showing this bearer token, or one from an address in
# METRICS_ALLOWED_NETWORKS (comma-separated addresses or networks); with neither, nobody.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "")

# --- notifications ----------------------------------------------------------
# Webhooks are called from inside the platform's network: only public addresses unless
# this allows private, loopback and reserved ones too (a receiver on the same network; tests).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", TESTING)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
# A failed delivery is tried again after the base, then twice as long each time, up to the maximum attempts.
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "WebhookEventEnum": "notifications.models.EventName",
        "WebhookFormatEnum": "notifications.models.WebhookFormat",
        "WebhookDeliveryStatusEnum": "notifications.models.DeliveryStatus",
        "RetentionBestIsEnum": "retention.models.BestIs",
    }
)

# --- logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- datasets ---------------------------------------------------------------
# Largest file a resumable (chunked) upload may announce; the small-file path keeps MAX_SMALL_FILE_BYTES.
MAX_LARGE_FILE_BYTES = env_int("MAX_LARGE_FILE_BYTES", 1024**4)
# Files up to this size are validated inside the upload request; bigger ones by a django-q2 worker.
VALIDATE_INLINE_BYTES = env_int("VALIDATE_INLINE_BYTES", 8 * 1024 * 1024)
# Processes one big file is validated by, piece by piece (1: in the worker alone). Every CPU this
# process may use by default: validation is CPU-bound, and a multi-GB corpus is worth them all.
VALIDATION_PROCESSES = env_int("VALIDATION_PROCESSES", len(os.sched_getaffinity(0)))
# A resumable upload is checked while it arrives: each time this many more bytes are in, a worker
# checks the whole lines it has not seen yet, so little is left to check when it is finished (0: off).
UPLOAD_VALIDATION_STEP_BYTES = env_int("UPLOAD_VALIDATION_STEP_BYTES", 128 * 1024 * 1024)
# Token lengths of files up to this size are measured inside the request that asks (a launch,
# the API, the console); bigger ones by a django-q2 worker.
TOKEN_LENGTHS_INLINE_BYTES = env_int("TOKEN_LENGTHS_INLINE_BYTES", 1024 * 1024)
# Resumable uploads with no new bytes for this long are removed by `manage.py purge_uploads`.
UPLOAD_SESSION_MAX_IDLE_HOURS = env_int("UPLOAD_SESSION_MAX_IDLE_HOURS", 48)
# Name the datasets' choice sets in the OpenAPI schema (a bare "status" collides across apps).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {"DatasetFileStatusEnum": "datasets.models.FileStatus", "DatasetTaskTypeEnum": "datasets.models.TaskType"}
)

# --- deid -------------------------------------------------------------------
# Most texts one POST /v1/deidentify:test may carry (more: 413).
DEID_MAX_TEXTS = env_int("DEID_MAX_TEXTS", 1000)
# Most UTF-8 bytes of text, all items together, in one POST /v1/deidentify:test (more: 413).
DEID_MAX_REQUEST_BYTES = env_int("DEID_MAX_REQUEST_BYTES", 1024 * 1024)
# A stable OpenAPI name for the de-identification jobs' status choices.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update({"DeidJobStatusEnum": "deid.models.DeidJobStatus"})

# --- docker executor --------------------------------------------------------
# The Docker daemon runs of the `docker` executor go to (the SDK's DOCKER_HOST).
DOCKER_HOST = os.environ.get("DOCKER_HOST", "") or "unix:///var/run/docker.sock"
# Seconds to wait for the Docker daemon to answer one request.
DOCKER_TIMEOUT_SECONDS = env_int("DOCKER_TIMEOUT_SECONDS", 30)
# Where RUNS_DIR is mounted inside the training container (unset: the same path, or
# through DOCKER_TRAINING_DIR when RUNS_DIR lies inside HOST_TRAINING_DIR).
DOCKER_RUNS_DIR = os.environ.get("DOCKER_RUNS_DIR", "")
# How long a running docker run may go unobserved because the daemon does not answer
# (a restart) before it is failed as lost.
DOCKER_UNREACHABLE_GRACE_SECONDS = env_float("DOCKER_UNREACHABLE_GRACE_SECONDS", 60.0)
# Containers a project's executor options may name besides DOCKER_CONTAINER_NAME ("*": any).
DOCKER_ALLOWED_CONTAINERS = env_list("DOCKER_ALLOWED_CONTAINERS", "")
# Images a project may run one container per run from ("*": any; empty: per-run containers are off).
DOCKER_ALLOWED_IMAGES = env_list("DOCKER_ALLOWED_IMAGES", "")

# --- slurm executor ---------------------------------------------------------
# Default sbatch --partition, --account and --time for runs of the `slurm` executor
# (empty: Slurm's defaults); a project's executor options override each.
SLURM_PARTITION = os.environ.get("SLURM_PARTITION", "")
SLURM_ACCOUNT = os.environ.get("SLURM_ACCOUNT", "")
SLURM_TIME_LIMIT = os.environ.get("SLURM_TIME_LIMIT", "")
# More sbatch options for every Slurm run, as one shell-quoted string (operators only).
SLURM_EXTRA_ARGS = os.environ.get("SLURM_EXTRA_ARGS", "")
# Seconds to wait for sbatch, scontrol, sacct or scancel to answer.
SLURM_COMMAND_TIMEOUT_SECONDS = env_float("SLURM_COMMAND_TIMEOUT_SECONDS", 30.0)
# After the final scancel, seconds to wait for the job to end (above Slurm's KillWait).
SLURM_KILL_WAIT_SECONDS = env_float("SLURM_KILL_WAIT_SECONDS", 60.0)
# py-spy as the compute nodes run it, for a stalled run's stack dump (empty: the py-spy installed beside
# this platform's Python, which nodes sharing its file system can run too).
SLURM_PY_SPY = os.environ.get("SLURM_PY_SPY", "")
